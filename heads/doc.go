// Package heads gathers the energy heads that compare two embeddings. Each
// head lives in its own subpackage and registers itself with core by name:
// l1sigmoid (Koch et al. 2015), contrastive (Hadsell et al. 2006), cosine
// (the circle loss of Sun et al. 2020 on cosine similarities) and xcorr
// (SiamFC's cross-correlation, Bertinetto et al. 2016).
package heads
