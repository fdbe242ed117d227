// Package towers gathers the embedding networks. Each tower lives in its own
// subpackage and registers itself with core by name, with a strictly
// decoded config (core.TowerFactoryOf): cnn (images; presets koch,
// koch-half and small), mlp (vectors), text (hashed n-grams through an
// embedding bag and an MLP) and fconv (fully convolutional feature maps for
// tracking).
package towers
