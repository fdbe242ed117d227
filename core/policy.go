package core

import (
	"fmt"

	"github.com/siamesenet/siamese/internal/registry"
)

// Policy is what a domain decides for its users, beside its data: the
// training recipe, where its data lives, how a trained model is
// calibrated, and how its gallery is used. The CLI, a server and a plugin
// host all read it here, so they behave the same for every domain.
type Policy struct {
	// DataFolder is the domain's folder under $SIAMESE_DATA (default: the
	// domain's name).
	DataFolder string `json:"data_folder,omitempty"`
	// ValTask is the evaluation task that validates during training and
	// calibrates the threshold after it ("" for none).
	ValTask string `json:"val_task,omitempty"`
	// FAR, if set, is the false-accept rate on the validation task that the
	// threshold is calibrated at by default (0: at the equal-error rate):
	// a domain where a false accept costs more than a false reject.
	FAR float64 `json:"far,omitempty"`
	// Recipe holds the training defaults for what the user does not set.
	Recipe Recipe `json:"recipe"`
	// FineTune, if set, replaces Recipe when a trained model is
	// fine-tuned (train --from): fewer steps, a lower rate, frozen layers.
	FineTune *Recipe `json:"fine_tune,omitempty"`
	// Enrolment is how the domain's gallery is used (nil: it has none).
	Enrolment *Enrolment `json:"enrolment,omitempty"`
}

// Recipe is a domain's training defaults; zero fields take the trainer's.
type Recipe struct {
	Split       string  `json:"split,omitempty"`
	Items       int     `json:"items,omitempty"`
	Pairs       int     `json:"pairs,omitempty"`
	Steps       int     `json:"steps,omitempty"`
	LR          float64 `json:"lr,omitempty"`
	WeightDecay float64 `json:"weight_decay,omitempty"`
	Schedule    string  `json:"schedule,omitempty"`
	Augment     bool    `json:"augment,omitempty"`
	ValEvery    int     `json:"val_every,omitempty"`
	// Freeze is how many leading layers of a Layered tower keep their
	// weights (fine-tuning).
	Freeze int `json:"freeze,omitempty"`
}

// Enrolment is how a domain enrols entries into a gallery and words its
// verdicts.
type Enrolment struct {
	Noun    string `json:"noun"`    // what an entry is: person, writer
	Key     string `json:"key"`     // the flag or field naming an entry: name, writer
	Item    string `json:"item"`    // what is enrolled: photo, signature
	Gallery string `json:"gallery"` // default gallery file
	List    string `json:"list"`    // the command that lists and removes entries: gallery, references
	Min     int    `json:"min"`     // fewest items per entry (at least 1)
	Max     int    `json:"max"`     // most items per entry
	Accept  string `json:"accept"`  // verify's verdict for a match: match, genuine
	Reject  string `json:"reject"`  // and for no match: no match, forged
	// Identify offers naming the entry of an item (1:N) besides verifying
	// a claimed one (1:1).
	Identify bool `json:"identify,omitempty"`
	// Aggregate offers choosing how a probe scores against an entry's
	// items (mean or max) when verifying.
	Aggregate bool `json:"aggregate,omitempty"`
	// Detect says items are found in larger inputs (faces in photos) by a
	// model whose decoder is a Finder: the commands take --detect
	// auto|on|off (Preprocess.Extra["detect"]) and identify reports every
	// item found, with its box.
	Detect bool `json:"detect,omitempty"`
}

// Check reports whether an enrolment policy is usable.
func (e *Enrolment) Check() error {
	if e.Min < 1 || e.Max < e.Min {
		return fmt.Errorf("enrolment of %d to %d items per %s", e.Min, e.Max, e.Noun)
	}
	return nil
}

type domainEntry struct {
	open   DomainFactory
	policy Policy
}

var domainFactories = registry.New[domainEntry]("core: domain")

// RegisterDomain makes a domain available by name, with its policy. It
// panics on a duplicate name or an unusable policy, as database/sql's
// Register does.
func RegisterDomain(name string, f DomainFactory, p Policy) {
	if p.Enrolment != nil {
		if err := p.Enrolment.Check(); err != nil {
			panic("core: RegisterDomain " + name + ": " + err.Error())
		}
	}
	domainFactories.Register(name, domainEntry{f, p})
}

// DomainPolicy returns the policy of a registered domain, known without
// opening its data.
func DomainPolicy(name string) (Policy, bool) {
	e, ok := domainFactories.Get(name)
	return e.policy, ok
}

// OpenDomain opens a registered domain.
func OpenDomain(name string, opts DomainOptions) (Domain, error) {
	e, ok := domainFactories.Get(name)
	if !ok {
		return nil, fmt.Errorf("unknown domain %q (registered: %v)", name, Domains())
	}
	return e.open(opts)
}

// Domains lists the registered domain names.
func Domains() []string { return domainFactories.Names() }
