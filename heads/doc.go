// Package heads gathers the energy heads that compare two embeddings. Each
// head lives in its own subpackage and registers itself with core by name:
// l1sigmoid (Koch et al. 2015) and contrastive (Hadsell et al. 2006).
package heads
