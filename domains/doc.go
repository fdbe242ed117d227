// Package domains gathers the pair loaders and preprocessing of each
// application. Each domain lives in its own subpackage and registers itself
// with core by name: omniglot (characters, the one-shot benchmark) and
// glyphs (built-in procedural data for the demo and tests).
package domains
