package serve

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/siamesenet/siamese/serve/store"
	"github.com/siamesenet/siamese/serve/store/filestore"
	"github.com/siamesenet/siamese/serve/store/pgstore"
)

// OpenStore opens the store a service or a report uses: PostgreSQL at db
// when it is set, else the folder of the gallery file galleryFile. It
// returns the store and the gallery a gallery file names (its base name
// without ".gallery"; "" for a database).
func OpenStore(ctx context.Context, db, galleryFile string) (store.Store, string, error) {
	if db != "" {
		st, err := pgstore.Open(ctx, db)
		return st, "", err
	}
	name := filestore.GalleryName(galleryFile)
	if name == "" {
		return nil, "", fmt.Errorf("--gallery %q: want a file NAME.gallery (NAME of letters, digits, '.', '_', '-'); the galleries of the service live beside it", galleryFile)
	}
	st, err := filestore.Open(filepath.Dir(galleryFile))
	return st, name, err
}
