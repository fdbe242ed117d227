package serve_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/siamesenet/siamese/serve"
)

// FuzzRequest sends arbitrary bodies, content types and fields to the
// endpoints that parse uploads: every answer is JSON, an error is never a
// 500 (a panic or an unhandled case), and a failed enrolment stores
// nothing.
func FuzzRequest(f *testing.F) {
	h := newHarness(f, fileStore(f), serve.Config{})
	body, ctype := multipartBody(map[string]string{"name": "ann"}, files(vec(1, 0))...)
	var seed bytes.Buffer
	seed.ReadFrom(body)
	f.Add(uint8(0), ctype, "ann", seed.Bytes())
	f.Add(uint8(1), "application/json", "", []byte(`{"embedding":[1,2,3,4],"k":1}`))
	f.Add(uint8(2), "multipart/form-data; boundary=x", "b", []byte("--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\n1 2 3 4 5 6\r\n--x--\r\n"))
	f.Add(uint8(3), "image/jpeg", "", []byte("\xff\xd8\xff"))
	paths := []string{"/v1/galleries/staff/subjects", "/v1/galleries/staff/identify", "/v1/galleries/staff/verify", "/v1/attendance/check-in", "/v1/embed", "/v1/compare"}
	f.Fuzz(func(t *testing.T, route uint8, ctype, name string, raw []byte) {
		path := paths[int(route)%len(paths)]
		req := httptest.NewRequest("POST", path+"?name="+urlQuery(name), bytes.NewReader(raw))
		req.Header.Set("Content-Type", ctype)
		req.Header.Set("Authorization", "Bearer "+h.admin.key)
		before, _ := h.st.Subjects(req.Context(), "staff")
		w := httptest.NewRecorder()
		h.srv.Handler().ServeHTTP(w, req)
		if w.Code == http.StatusInternalServerError {
			t.Fatalf("%s: 500: %s", path, w.Body)
		}
		var out map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
			t.Fatalf("%s: %d, not JSON: %q", path, w.Code, w.Body)
		}
		if w.Code >= 400 {
			if msg, _ := out["error"].(string); msg == "" {
				t.Fatalf("%s: %d without an error message: %s", path, w.Code, w.Body)
			}
			after, _ := h.st.Subjects(req.Context(), "staff")
			if len(after) != len(before) {
				t.Fatalf("%s: %d, yet the gallery changed", path, w.Code)
			}
		}
	})
}
