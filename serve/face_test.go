package serve_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"image"
	"image/draw"
	"image/jpeg"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	xdraw "golang.org/x/image/draw"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/domains/face"
	"github.com/siamesenet/siamese/internal/datadir"
	"github.com/siamesenet/siamese/internal/faceapitest"
	"github.com/siamesenet/siamese/serve"
	"github.com/siamesenet/siamese/serve/store"
)

// faceServer serves the pretrained face model (imported from the npm
// package; skipped without npm or SIAMESE_DATA's LFW photos) on a file
// store, as 'siamese serve' does.
func faceServer(t *testing.T) (*harness, *core.Model) {
	t.Helper()
	m, err := face.Import(faceapitest.Tarball(t), face.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pol, _ := core.DomainPolicy(face.Name)
	st := fileStore(t)
	cfg := serve.Config{Model: m, Store: st, Enrolment: pol.Enrolment, Attendance: true, DefaultGallery: "staff", OncePerDay: true, Logger: slog.New(slog.DiscardHandler)}
	srv, err := serve.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	h := &harness{srv: srv, http: hs, st: st, m: m, anon: client{t, hs.URL, ""}}
	for _, k := range []struct {
		scope store.Scope
		c     *client
	}{{store.ScopeAdmin, &h.admin}, {store.ScopeKiosk, &h.kiosk}, {store.ScopeRead, &h.read}} {
		secret, key, _ := store.NewKey(k.scope, "test")
		if err := st.AddKey(ctx, key); err != nil {
			t.Fatal(err)
		}
		*k.c = client{t, hs.URL, secret}
	}
	return h, m
}

// doorPhotos are JPEG door-camera photos (640×480, one LFW face each,
// off centre) of the named LFW images.
func doorPhotos(t *testing.T, names ...string) [][]byte {
	t.Helper()
	dir := datadir.Domain("lfw")
	if dir == "" {
		t.Skip("SIAMESE_DATA is not set: no LFW photos")
	}
	z, err := zip.OpenReader(filepath.Join(dir, "lfw.zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	var out [][]byte
	for i, n := range names {
		f, err := z.Open("lfw/" + n[:len(n)-9] + "/" + n)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(f)
		f.Close()
		img, _, err := image.Decode(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, jpegOf(t, photoWith(img, image.Rect(180+40*i, 100, 180+40*i+220, 320))))
	}
	return out
}

func photoWith(f image.Image, at image.Rectangle) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, 640, 480))
	for i := range img.Pix {
		img.Pix[i] = uint8(100 + i%11)
		if i%4 == 3 {
			img.Pix[i] = 255 // opaque, as a camera's photo is
		}
	}
	if f != nil {
		xdraw.BiLinear.Scale(img, at, f, f.Bounds(), draw.Src, nil)
	}
	return img
}

func jpegOf(t *testing.T, img image.Image) []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 92}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestFacePhotos is the attendance path on real photos through the API:
// enrol from two door photos, check in with a third, a stranger is
// unknown, a photo with no face is refused and records nothing.
func TestFacePhotos(t *testing.T) {
	h, _ := faceServer(t)
	ph := doorPhotos(t, "George_W_Bush_0001.jpg", "George_W_Bush_0002.jpg", "George_W_Bush_0003.jpg", "Colin_Powell_0001.jpg")
	code, out := h.admin.multipart("POST", "/v1/galleries/staff/subjects", map[string]string{"name": "George"}, part{"file", "a.jpg", string(ph[0])}, part{"file", "b.jpg", string(ph[1])})
	if code != 201 {
		t.Fatalf("enrol: %d %v", code, out)
	}
	checkIn := func(photo []byte) (int, map[string]any) {
		return h.kiosk.multipart("POST", "/v1/attendance/check-in", map[string]string{"camera": "front"}, part{"file", "door.jpg", string(photo)})
	}
	code, out = checkIn(ph[2])
	if f := list(t, out, "faces")[0]; code != 200 || f["name"] != "George" || f["box"] == nil {
		t.Fatalf("check-in George: %d %v", code, out)
	}
	code, out = checkIn(ph[3])
	if f := list(t, out, "faces")[0]; code != 200 || f["name"] != serve.Unknown {
		t.Fatalf("check-in a stranger: %d %v", code, out)
	}
	code, out = checkIn(jpegOf(t, photoWith(nil, image.Rectangle{})))
	if msg, _ := out["error"].(string); code != 422 || !strings.Contains(msg, "door.jpg") || !strings.Contains(msg, "no face") {
		t.Fatalf("a photo with no face: %d %v", code, out)
	}
	evs, err := h.st.Attendance(context.Background(), today())
	if err != nil || len(evs) != 2 || evs[0].Subject != "George" || evs[1].Known() {
		t.Fatalf("events: %v %v", evs, err)
	}
}

// TestPageInChromium drives the web page in headless Chromium: enrol
// through the page, check in, see the row, download the CSV, delete.
func TestPageInChromium(t *testing.T) {
	bin, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("SIAMESE_REQUIRE_SERVICES") != "" {
			t.Fatal("Chromium is needed (SIAMESE_REQUIRE_SERVICES is set): apt-get install chromium")
		}
		t.Skip("no chromium on PATH (Debian: apt-get install chromium)")
	}
	h, _ := faceServer(t)
	ph := doorPhotos(t, "George_W_Bush_0001.jpg", "George_W_Bush_0002.jpg", "George_W_Bush_0003.jpg")
	dir := t.TempDir()
	var files []string
	for i, p := range ph {
		f := filepath.Join(dir, fmt.Sprintf("photo%d.jpg", i+1))
		os.WriteFile(f, p, 0o644)
		files = append(files, f)
	}
	downloads := filepath.Join(dir, "downloads")
	os.Mkdir(downloads, 0o755)

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true), chromedp.UserDataDir(filepath.Join(dir, "profile")))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	// The first action starts the browser, under no timeout of its own.
	if err := chromedp.Do(ctx, chromedp.Navigate(h.http.URL)); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloads}); err != nil {
		t.Fatal(err)
	}
	// The delete button's confirm() is answered yes.
	if err := chromedp.Listen(ctx, func(ev any) {
		if _, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			go chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}); err != nil {
		t.Fatal(err)
	}
	tctx, tcancel := context.WithTimeout(ctx, 2*time.Minute)
	defer tcancel()
	// shows waits until the element sel's text holds want.
	shows := func(sel string, want string) chromedp.Action[chromedp.Void] {
		return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			for {
				got, err := chromedp.Text(chromedp.CSS(sel))(ctx, tg)
				if err != nil {
					return chromedp.Void{}, err
				}
				if strings.Contains(got, want) {
					return chromedp.Void{}, nil
				}
				select {
				case <-ctx.Done():
					return chromedp.Void{}, fmt.Errorf("%s never showed %q (last: %q)", sel, want, got)
				case <-time.After(100 * time.Millisecond):
				}
			}
		}
	}
	err = chromedp.Do(tctx,
		chromedp.SendKeys(chromedp.ID("key"), h.admin.key),
		chromedp.Click(chromedp.ID("save-key")),
		shows("#model", "gallery staff"),
		// enrol
		chromedp.Click(chromedp.CSS(`nav button[data-view="enrol"]`)),
		chromedp.SendKeys(chromedp.ID("enrol-name"), "George Bush"),
		chromedp.SetUploadFiles(chromedp.ID("enrol-files"), files[:2]),
		chromedp.Click(chromedp.ID("enrol-submit")),
		shows("#message", "Enrolled George Bush from 2 photo(s)"),
		// check in at the kiosk
		chromedp.Click(chromedp.CSS(`nav button[data-view="kiosk"]`)),
		chromedp.SetUploadFiles(chromedp.ID("kiosk-file"), files[2:]),
		shows("#kiosk-result", "George Bush"),
		// see the row, download the CSV
		chromedp.Click(chromedp.CSS(`nav button[data-view="attendance"]`)),
		shows("#att-table tbody", "George Bush"),
		chromedp.Click(chromedp.ID("att-csv")),
	)
	if err != nil {
		t.Fatal(err)
	}
	var csvFile string
	eventually(t, 10*time.Second, "the CSV downloaded", func() bool {
		fs, _ := filepath.Glob(filepath.Join(downloads, "attendance-*.csv"))
		if len(fs) == 1 {
			csvFile = fs[0]
		}
		return csvFile != ""
	})
	raw, _ := os.ReadFile(csvFile)
	rows, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
	if err != nil || len(rows) != 2 || rows[1][4] != "George Bush" || rows[1][7] != "web" {
		t.Fatalf("downloaded CSV: %v %q", err, raw)
	}
	// the gallery, and a delete through it
	err = chromedp.Do(tctx,
		chromedp.Click(chromedp.CSS(`nav button[data-view="gallery"]`)),
		shows("#gallery-table tbody", "George Bush"),
		chromedp.Click(chromedp.CSS("#gallery-table button.delete")),
		shows("#message", "Deleted George Bush"),
	)
	if err != nil {
		t.Fatal(err)
	}
	if subs, err := h.st.Subjects(context.Background(), "staff"); err != nil || len(subs) != 0 {
		t.Fatalf("after the page's delete: %d subjects, %v", len(subs), err)
	}
}
