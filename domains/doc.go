// Package domains gathers the applications. Each domain lives in its own
// subpackage, owns its data, preprocessing and policy (core.Policy: data
// folder, training recipe, validation task, enrolment limits and verdict
// words) and registers itself with core by name: omniglot (characters, the
// one-shot benchmark), glyphs (built-in procedural data for the demo and
// tests), face, signature, questions and tracking.
package domains
