// Package towers gathers the embedding networks. Each tower lives in its own
// subpackage and registers itself with core by name: cnn (images) and mlp
// (vectors).
package towers
