package keys

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"
)

var productionKDF = defaultKDF

func TestMain(m *testing.M) {
	// Keep argon2id cheap in tests; the parameters are stored with every
	// ciphertext so decryption uses whatever was used to encrypt.
	defaultKDF = kdfParams{Time: 1, MemoryKiB: 64, Threads: 1}
	os.Exit(m.Run())
}

// fixedPass returns a PassphraseFunc always answering pass, recording the
// confirm flag of each call.
func fixedPass(pass string, calls *[]bool) PassphraseFunc {
	return func(prompt string, confirm bool) (string, error) {
		if calls != nil {
			*calls = append(*calls, confirm)
		}
		return pass, nil
	}
}

func openT(t *testing.T, dir, backend string, pf PassphraseFunc) *Keyring {
	t.Helper()
	k, err := Open(dir, backend, pf)
	if err != nil {
		t.Fatalf("Open(%s, %s): %v", dir, backend, err)
	}
	return k
}

func mustPub(t *testing.T, info Info) ed25519.PublicKey {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(info.PubKey)
	if err != nil || len(raw) != ed25519.PublicKeySize {
		t.Fatalf("bad pub_key %q: %v", info.PubKey, err)
	}
	return ed25519.PublicKey(raw)
}

func names(infos []Info) []string {
	out := make([]string, len(infos))
	for i, in := range infos {
		out[i] = in.Name
	}
	return out
}

func TestDefaultKDFParameters(t *testing.T) {
	want := kdfParams{Time: 3, MemoryKiB: 64 * 1024, Threads: 2}
	if productionKDF != want {
		t.Fatalf("default argon2id parameters = %+v, want %+v", productionKDF, want)
	}
}

func TestRoundtripBothBackends(t *testing.T) {
	for _, backend := range []string{BackendTest, BackendFile} {
		t.Run(backend, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "keyring")
			var calls []bool
			k := openT(t, dir, backend, fixedPass("correct horse", &calls))

			// Add in non-sorted order, with names whose file names sort
			// differently from the names themselves ("a-b.json" < "a.json").
			var added []Info
			for _, n := range []string{"zed", "a", "a-b"} {
				info, err := k.Add(n)
				if err != nil {
					t.Fatalf("Add(%s): %v", n, err)
				}
				if info.Name != n || info.Backend != backend {
					t.Fatalf("Add(%s) info = %+v", n, info)
				}
				pub := mustPub(t, info)
				if info.Address != FormatAddress(AddressOf(pub)) || len(info.Address) != 40 {
					t.Fatalf("address %q does not match pub key", info.Address)
				}
				added = append(added, info)
			}
			if backend == BackendFile {
				if len(calls) != 3 || !calls[0] || !calls[1] || !calls[2] {
					t.Fatalf("Add should ask for the passphrase with confirm=true, got %v", calls)
				}
			} else if len(calls) != 0 {
				t.Fatalf("test backend asked for a passphrase: %v", calls)
			}
			if added[0].Address == added[1].Address || added[1].Address == added[2].Address {
				t.Fatal("two generated keys share an address")
			}

			list, err := k.List()
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(names(list), ","); got != "a,a-b,zed" {
				t.Fatalf("List order = %s, want a,a-b,zed", got)
			}

			show, err := k.Show("zed")
			if err != nil {
				t.Fatal(err)
			}
			if show != added[0] {
				t.Fatalf("Show = %+v, want %+v", show, added[0])
			}

			calls = nil
			msg := []byte("transfer 10 tally")
			sig, err := k.Sign("zed", msg)
			if err != nil {
				t.Fatal(err)
			}
			if !ed25519.Verify(mustPub(t, show), msg, sig) {
				t.Fatal("signature does not verify")
			}
			if backend == BackendFile && (len(calls) != 1 || calls[0]) {
				t.Fatalf("Sign should ask once with confirm=false, got %v", calls)
			}
			priv, err := k.PrivKey("zed")
			if err != nil {
				t.Fatal(err)
			}
			if !mustPub(t, show).Equal(priv.Public()) {
				t.Fatal("PrivKey does not match the stored public key")
			}

			// Files: one per key, 0600, in a 0700 directory.
			st, err := os.Stat(dir)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o700 {
				t.Fatalf("dir mode = %v, want 0700", st.Mode().Perm())
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 3 {
				t.Fatalf("want 3 files, got %d", len(entries))
			}
			for _, e := range entries {
				fi, _ := e.Info()
				if fi.Mode().Perm() != 0o600 {
					t.Fatalf("%s mode = %v, want 0600", e.Name(), fi.Mode().Perm())
				}
			}

			if err := k.Delete("a"); err != nil {
				t.Fatal(err)
			}
			if _, err := k.Show("a"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Show after Delete: %v, want ErrNotFound", err)
			}
			if _, err := os.Stat(filepath.Join(dir, "a.json")); !os.IsNotExist(err) {
				t.Fatalf("key file still present after Delete: %v", err)
			}
			list, err = k.List()
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(names(list), ","); got != "a-b,zed" {
				t.Fatalf("List after Delete = %s", got)
			}
			if err := k.Delete("a"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("second Delete: %v, want ErrNotFound", err)
			}
		})
	}
}

func TestEmptyKeyringListsNothing(t *testing.T) {
	k := openT(t, t.TempDir(), BackendTest, nil)
	list, err := k.List()
	if err != nil {
		t.Fatal(err)
	}
	if list == nil || len(list) != 0 {
		t.Fatalf("List = %#v, want empty non-nil slice", list)
	}
}

func TestTestBackendFileIsPlaintext(t *testing.T) {
	dir := t.TempDir()
	k := openT(t, dir, BackendTest, nil)
	info, err := k.Add("demo")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "demo.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Backend string `json:"backend"`
		Address string `json:"address"`
		PrivKey string `json:"priv_key"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatalf("test-backend file is not plain JSON: %v", err)
	}
	if f.Backend != BackendTest || f.Address != info.Address {
		t.Fatalf("file = %+v", f)
	}
	privFromFile, err := base64.StdEncoding.DecodeString(f.PrivKey)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := k.PrivKey("demo")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(privFromFile, priv) {
		t.Fatal("priv_key in the test-backend file is not the private key")
	}
	// The key in the file signs for the recorded address.
	msg := []byte("hello")
	if !ed25519.Verify(mustPub(t, info), msg, ed25519.Sign(ed25519.PrivateKey(privFromFile), msg)) {
		t.Fatal("private key from file does not sign for the account")
	}
}

func TestFileBackendDoesNotStorePrivateKey(t *testing.T) {
	dir := t.TempDir()
	k := openT(t, dir, BackendFile, fixedPass("s3cret-passphrase", nil))
	info, err := k.Add("val")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "val.json"))
	if err != nil {
		t.Fatal(err)
	}
	priv, err := k.PrivKey("val")
	if err != nil {
		t.Fatal(err)
	}
	seed := priv.Seed()
	for what, secret := range map[string][]byte{"private key": priv, "seed": seed} {
		for enc, b := range map[string][]byte{
			"raw":       secret,
			"base64":    []byte(base64.StdEncoding.EncodeToString(secret)),
			"base64url": []byte(base64.RawURLEncoding.EncodeToString(secret)),
			"hex":       []byte(hex.EncodeToString(secret)),
		} {
			if bytes.Contains(raw, b) {
				t.Fatalf("file-backend key file contains the %s (%s)", what, enc)
			}
		}
	}
	if bytes.Contains(raw, []byte("s3cret")) {
		t.Fatal("key file contains the passphrase")
	}
	// Public data is still readable without a passphrase.
	if !bytes.Contains(raw, []byte(info.Address)) || !bytes.Contains(raw, []byte(`"backend": "file"`)) {
		t.Fatalf("key file lacks public data:\n%s", raw)
	}
	if !bytes.Contains(raw, []byte(`"argon2id"`)) || !bytes.Contains(raw, []byte(`"xchacha20-poly1305"`)) {
		t.Fatalf("key file does not record its KDF and cipher:\n%s", raw)
	}
}

func TestWrongPassphrase(t *testing.T) {
	dir := t.TempDir()
	k := openT(t, dir, BackendFile, fixedPass("right-passphrase", nil))
	if _, err := k.Add("val"); err != nil {
		t.Fatal(err)
	}
	for _, wrong := range []string{"wrong", "", "right "} {
		k2 := openT(t, dir, BackendFile, fixedPass(wrong, nil))
		if _, err := k2.PrivKey("val"); !errors.Is(err, ErrWrongPassphrase) {
			t.Fatalf("PrivKey with %q: %v, want ErrWrongPassphrase", wrong, err)
		}
		if _, err := k2.Sign("val", []byte("m")); !errors.Is(err, ErrWrongPassphrase) {
			t.Fatalf("Sign with %q: %v, want ErrWrongPassphrase", wrong, err)
		}
		if _, err := k2.Export("val", "export-passphrase"); !errors.Is(err, ErrWrongPassphrase) {
			t.Fatalf("Export with %q: %v, want ErrWrongPassphrase", wrong, err)
		}
	}
	if _, err := k.PrivKey("val"); err != nil {
		t.Fatalf("right passphrase refused: %v", err)
	}
}

func TestPassphraseFuncErrors(t *testing.T) {
	dir := t.TempDir()
	// nil PassphraseFunc is fine for listing but not for key material.
	k := openT(t, dir, BackendFile, nil)
	if _, err := k.Add("x"); err == nil || !strings.Contains(err.Error(), "passphrase") {
		t.Fatalf("Add without PassphraseFunc: %v", err)
	}
	if _, err := k.List(); err != nil {
		t.Fatal(err)
	}
	// Empty passphrase is refused when encrypting.
	k = openT(t, dir, BackendFile, fixedPass("", nil))
	if _, err := k.Add("x"); err == nil || !strings.Contains(err.Error(), "empty passphrase") {
		t.Fatalf("Add with empty passphrase: %v", err)
	}
	// Errors from the PassphraseFunc are propagated; nothing is written.
	boom := errors.New("tty closed")
	k = openT(t, dir, BackendFile, func(string, bool) (string, error) { return "", boom })
	if _, err := k.Add("x"); !errors.Is(err, boom) {
		t.Fatalf("Add with failing PassphraseFunc: %v", err)
	}
	if list, _ := k.List(); len(list) != 0 {
		t.Fatalf("failed Add left keys behind: %v", list)
	}
	// No temporary files left behind either.
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Fatalf("directory not empty: %v", entries)
	}
}

func TestExportImport(t *testing.T) {
	cases := []struct{ from, to string }{
		{BackendFile, BackendFile},
		{BackendFile, BackendTest},
		{BackendTest, BackendFile},
		{BackendTest, BackendTest},
	}
	for _, c := range cases {
		t.Run(c.from+"->"+c.to, func(t *testing.T) {
			src := openT(t, t.TempDir(), c.from, fixedPass("src-passphrase", nil))
			orig, err := src.Add("alice")
			if err != nil {
				t.Fatal(err)
			}
			armor, err := src.Export("alice", "export-passphrase")
			if err != nil {
				t.Fatal(err)
			}
			srcPriv, _ := src.PrivKey("alice")
			if bytes.Contains(armor, []byte(base64.StdEncoding.EncodeToString(srcPriv.Seed()))) ||
				bytes.Contains(armor, srcPriv.Seed()) {
				t.Fatal("armor contains the seed in clear")
			}

			dst := openT(t, t.TempDir(), c.to, fixedPass("dst-passphrase", nil))
			if _, err := dst.Import("bob", armor, "not-it"); !errors.Is(err, ErrWrongPassphrase) {
				t.Fatalf("Import with wrong passphrase: %v, want ErrWrongPassphrase", err)
			}
			imported, err := dst.Import("bob", armor, "export-passphrase")
			if err != nil {
				t.Fatal(err)
			}
			if imported.Address != orig.Address || imported.PubKey != orig.PubKey {
				t.Fatalf("imported %+v, original %+v", imported, orig)
			}
			if imported.Name != "bob" || imported.Backend != c.to {
				t.Fatalf("imported info = %+v", imported)
			}
			msg := []byte("tx bytes")
			sig, err := dst.Sign("bob", msg)
			if err != nil {
				t.Fatal(err)
			}
			if !ed25519.Verify(mustPub(t, orig), msg, sig) {
				t.Fatal("signature from imported key does not verify against the original public key")
			}
			if _, err := dst.Import("bob", armor, "export-passphrase"); !errors.Is(err, ErrExists) {
				t.Fatalf("Import over existing name: %v, want ErrExists", err)
			}
		})
	}
}

func TestExportRefusals(t *testing.T) {
	k := openT(t, t.TempDir(), BackendTest, nil)
	if _, err := k.Add("a"); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Export("a", ""); err == nil {
		t.Fatal("Export with empty passphrase accepted")
	}
	if _, err := k.Export("nope", "p-long-passphrase"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Export unknown: %v", err)
	}
	// A keyring file is not export armor.
	raw, _ := os.ReadFile(filepath.Join(k.Dir(), "a.json"))
	if _, err := k.Import("b", raw, "p"); err == nil || !strings.Contains(err.Error(), "not an exported Tally key") {
		t.Fatalf("Import of a keyring file: %v", err)
	}
	if _, err := k.Import("b", []byte("garbage"), "p"); err == nil {
		t.Fatal("Import of garbage accepted")
	}
	// Tampering with the recorded public key is detected.
	armor, err := k.Export("a", "p-long-passphrase")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	_ = json.Unmarshal(armor, &m)
	other, _, _ := ed25519.GenerateKey(nil)
	m["pub_key"] = base64.StdEncoding.EncodeToString(other)
	m["address"] = FormatAddress(AddressOf(other))
	tampered, _ := json.Marshal(m)
	if _, err := k.Import("b", tampered, "p-long-passphrase"); err == nil {
		t.Fatal("Import of armor with swapped public key accepted")
	}
	if _, err := k.Show("b"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("failed imports left key b behind: %v", err)
	}
}

func TestImportPrivKey(t *testing.T) {
	seed := sha256.Sum256([]byte("deterministic test seed"))
	priv := ed25519.NewKeyFromSeed(seed[:])
	pub := priv.Public().(ed25519.PublicKey)
	for _, backend := range []string{BackendTest, BackendFile} {
		k := openT(t, t.TempDir(), backend, fixedPass("p-long-passphrase", nil))
		info, err := k.ImportPrivKey("imp", priv)
		if err != nil {
			t.Fatal(err)
		}
		if info.Address != FormatAddress(AddressOf(pub)) || info.PubKey != base64.StdEncoding.EncodeToString(pub) {
			t.Fatalf("info = %+v", info)
		}
		got, err := k.PrivKey("imp")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, priv) {
			t.Fatal("PrivKey differs from the imported key")
		}
		if _, err := k.ImportPrivKey("imp", priv); !errors.Is(err, ErrExists) {
			t.Fatalf("duplicate ImportPrivKey: %v", err)
		}
		if _, err := k.ImportPrivKey("short", priv[:32]); err == nil {
			t.Fatal("32-byte private key accepted")
		}
		bad := bytes.Clone(priv)
		bad[40] ^= 1 // corrupt the public half
		if _, err := k.ImportPrivKey("bad", bad); err == nil {
			t.Fatal("inconsistent private key accepted")
		}
	}
}

func TestDuplicateName(t *testing.T) {
	for _, backend := range []string{BackendTest, BackendFile} {
		var calls []bool
		k := openT(t, t.TempDir(), backend, fixedPass("p-long-passphrase", &calls))
		first, err := k.Add("dup")
		if err != nil {
			t.Fatal(err)
		}
		calls = nil
		_, err = k.Add("dup")
		if !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), `"dup"`) {
			t.Fatalf("%s: second Add: %v, want ErrExists naming the key", backend, err)
		}
		if len(calls) != 0 {
			t.Fatalf("%s: passphrase asked before refusing duplicate", backend)
		}
		got, err := k.Show("dup")
		if err != nil || got != first {
			t.Fatalf("%s: existing key changed: %+v %v", backend, got, err)
		}
	}
}

func TestBadNames(t *testing.T) {
	k := openT(t, t.TempDir(), BackendTest, nil)
	bad := []string{
		"", "a b", "a/b", "../x", `a\b`, "ключ", "a\x00", "a:b", "name*",
		strings.Repeat("x", 65),
	}
	for _, n := range bad {
		if _, err := k.Add(n); !errors.Is(err, ErrInvalidName) {
			t.Errorf("Add(%q): %v, want ErrInvalidName", n, err)
		}
		if _, err := k.ImportPrivKey(n, ed25519.NewKeyFromSeed(make([]byte, 32))); !errors.Is(err, ErrInvalidName) {
			t.Errorf("ImportPrivKey(%q): %v, want ErrInvalidName", n, err)
		}
		if _, err := k.Show(n); !errors.Is(err, ErrInvalidName) {
			t.Errorf("Show(%q): %v, want ErrInvalidName", n, err)
		}
	}
	if list, _ := k.List(); len(list) != 0 {
		t.Fatalf("bad names created keys: %v", list)
	}
	for _, n := range []string{"a", "A.b_c-9", strings.Repeat("x", 64)} {
		if _, err := k.Add(n); err != nil {
			t.Errorf("Add(%q) refused: %v", n, err)
		}
	}
}

func TestUnknownName(t *testing.T) {
	k := openT(t, t.TempDir(), BackendFile, fixedPass("p-long-passphrase", nil))
	_, err := k.Show("ghost")
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("Show: %v, want ErrNotFound", err)
	}
	if msg := err.Error(); !strings.Contains(msg, `"ghost"`) || !strings.Contains(msg, "tallyd keys list") {
		t.Fatalf("error should name the key and suggest `tallyd keys list`: %s", msg)
	}
	if err := k.Delete("ghost"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := k.PrivKey("ghost"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("PrivKey: %v", err)
	}
	if _, err := k.Sign("ghost", nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Sign: %v", err)
	}
}

func TestReopenListsSameKeys(t *testing.T) {
	for _, backend := range []string{BackendTest, BackendFile} {
		dir := t.TempDir()
		k := openT(t, dir, backend, fixedPass("p-long-passphrase", nil))
		for _, n := range []string{"validator", "alice", "bob"} {
			if _, err := k.Add(n); err != nil {
				t.Fatal(err)
			}
		}
		before, err := k.List()
		if err != nil {
			t.Fatal(err)
		}
		msg := []byte("m")
		sig, err := k.Sign("bob", msg)
		if err != nil {
			t.Fatal(err)
		}

		k2 := openT(t, dir, backend, fixedPass("p-long-passphrase", nil))
		after, err := k2.List()
		if err != nil {
			t.Fatal(err)
		}
		if len(after) != 3 || len(before) != 3 {
			t.Fatalf("before %v after %v", before, after)
		}
		for i := range before {
			if before[i] != after[i] {
				t.Fatalf("key %d: before %+v after %+v", i, before[i], after[i])
			}
		}
		// ed25519 is deterministic: same key => same signature.
		sig2, err := k2.Sign("bob", msg)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(sig, sig2) {
			t.Fatal("reopened keyring signs differently")
		}
	}
}

func TestBackendMismatch(t *testing.T) {
	dir := t.TempDir()
	tk := openT(t, dir, BackendTest, nil)
	if _, err := tk.Add("plain"); err != nil {
		t.Fatal(err)
	}
	fk := openT(t, dir, BackendFile, fixedPass("p-long-passphrase", nil))
	for name, err := range map[string]error{
		"Show": func() error { _, err := fk.Show("plain"); return err }(),
		"List": func() error { _, err := fk.List(); return err }(),
		"Sign": func() error { _, err := fk.Sign("plain", nil); return err }(),
	} {
		if !errors.Is(err, ErrBackendMismatch) || !strings.Contains(err.Error(), `"test"`) {
			t.Fatalf("file keyring %s of test key: %v", name, err)
		}
	}
	if err := fk.Delete("plain"); !errors.Is(err, ErrBackendMismatch) {
		t.Fatalf("Delete across backends: %v", err)
	}
	if _, err := tk.Show("plain"); err != nil {
		t.Fatalf("key deleted across backends: %v", err)
	}

	dir2 := t.TempDir()
	fk2 := openT(t, dir2, BackendFile, fixedPass("p-long-passphrase", nil))
	if _, err := fk2.Add("enc"); err != nil {
		t.Fatal(err)
	}
	tk2 := openT(t, dir2, BackendTest, nil)
	if _, err := tk2.PrivKey("enc"); !errors.Is(err, ErrBackendMismatch) || !strings.Contains(err.Error(), `"file"`) {
		t.Fatalf("test keyring reading file key: %v", err)
	}
}

func TestCorruptKeyFile(t *testing.T) {
	dir := t.TempDir()
	k := openT(t, dir, BackendTest, nil)
	if _, err := k.Add("a"); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "a.json")
	raw, _ := os.ReadFile(p)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	m["address"] = strings.Repeat("0", 40)
	bad, _ := json.Marshal(m)
	if err := os.WriteFile(p, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Show("a"); err == nil || !strings.Contains(err.Error(), "corrupted") {
		t.Fatalf("Show of tampered file: %v", err)
	}
	if err := os.WriteFile(p, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := k.List(); err == nil || !strings.Contains(err.Error(), "a.json") {
		t.Fatalf("List with corrupted file: %v", err)
	}
}

func TestOpen(t *testing.T) {
	_, err := Open(t.TempDir(), "os", nil)
	if err == nil || !strings.Contains(err.Error(), `"os"`) ||
		!strings.Contains(err.Error(), `"file"`) || !strings.Contains(err.Error(), `"test"`) {
		t.Fatalf("unknown backend error should name it and the valid ones: %v", err)
	}
	if _, err := Open("", BackendTest, nil); err == nil {
		t.Fatal("empty dir accepted")
	}
	f := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(f, BackendTest, nil); err == nil {
		t.Fatal("regular file accepted as keyring dir")
	}
	nested := filepath.Join(t.TempDir(), "a", "b")
	k, err := Open(nested, BackendTest, nil)
	if err != nil {
		t.Fatal(err)
	}
	if k.Backend() != BackendTest || k.Dir() != nested {
		t.Fatalf("Backend/Dir = %s %s", k.Backend(), k.Dir())
	}
}

func TestAddress(t *testing.T) {
	seed := sha256.Sum256([]byte("addr"))
	pub := ed25519.NewKeyFromSeed(seed[:]).Public().(ed25519.PublicKey)
	addr := AddressOf(pub)
	h := sha256.Sum256(pub)
	if !bytes.Equal(addr, h[:20]) {
		t.Fatal("address is not SHA-256(pub)[:20]")
	}
	if !bytes.Equal(addr, cmted25519.PubKey(pub).Address()) {
		t.Fatal("address differs from CometBFT's")
	}
	if AddressOf(pub[:31]) != nil {
		t.Fatal("AddressOf accepted a short key")
	}
	s := FormatAddress(addr)
	if len(s) != 40 || s != strings.ToLower(s) {
		t.Fatalf("FormatAddress = %q", s)
	}
	back, err := ParseAddress(s)
	if err != nil || !bytes.Equal(back, addr) {
		t.Fatalf("ParseAddress roundtrip: %x %v", back, err)
	}
	if back, err := ParseAddress(strings.ToUpper(s)); err != nil || !bytes.Equal(back, addr) {
		t.Fatalf("ParseAddress upper-case: %v", err)
	}
	for _, in := range []string{"", s[:38], s + "00", "zz" + s[2:]} {
		if _, err := ParseAddress(in); err == nil {
			t.Errorf("ParseAddress(%q) accepted", in)
		}
	}
	_, err = ParseAddress(s[:38])
	if err == nil || !strings.Contains(err.Error(), "40 hex characters") {
		t.Fatalf("wrong-length error unclear: %v", err)
	}
	_, err = ParseAddress("zz" + s[2:])
	if err == nil || !strings.Contains(err.Error(), "not hex") {
		t.Fatalf("non-hex error unclear: %v", err)
	}
}

func TestPassphraseFromEnv(t *testing.T) {
	const v = "TALLY_KEYS_TEST_PASSPHRASE"
	pf := PassphraseFromEnv(v)
	os.Unsetenv(v)
	if _, err := pf("p", false); err == nil || !strings.Contains(err.Error(), v) || !strings.Contains(err.Error(), "not set") {
		t.Fatalf("unset: %v", err)
	}
	t.Setenv(v, "")
	if _, err := pf("p", true); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Fatalf("empty: %v", err)
	}
	t.Setenv(v, "from-env-passphrase")
	if got, err := pf("p", true); err != nil || got != "from-env-passphrase" {
		t.Fatalf("set: %q %v", got, err)
	}
	// Works end to end with the file backend.
	k := openT(t, t.TempDir(), BackendFile, pf)
	if _, err := k.Add("env"); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Sign("env", []byte("x")); err != nil {
		t.Fatal(err)
	}
}

func pipeWith(t *testing.T, input string) *os.File {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	if _, err := w.WriteString(input); err != nil {
		t.Fatal(err)
	}
	w.Close()
	return r
}

func TestPassphraseFromTerminal(t *testing.T) {
	var out bytes.Buffer
	in := pipeWith(t, "hunter2\r\nhunter2\nnext line\n")
	pf := PassphraseFromTerminal(in, &out)
	got, err := pf("Enter passphrase", true)
	if err != nil || got != "hunter2" {
		t.Fatalf("confirm: %q %v", got, err)
	}
	if !strings.Contains(out.String(), "Enter passphrase") || !strings.Contains(out.String(), "Repeat") {
		t.Fatalf("prompts not written: %q", out.String())
	}
	// Nothing beyond the passphrase lines was consumed.
	got, err = pf("again", false)
	if err != nil || got != "next line" {
		t.Fatalf("following line: %q %v", got, err)
	}
	if _, err := pf("eof", false); err == nil {
		t.Fatal("EOF accepted as a passphrase")
	}

	pf = PassphraseFromTerminal(pipeWith(t, "one\ntwo\n"), &out)
	if _, err := pf("p", true); err == nil || !strings.Contains(err.Error(), "do not match") {
		t.Fatalf("mismatch: %v", err)
	}
	pf = PassphraseFromTerminal(pipeWith(t, "no-newline"), nil)
	if got, err := pf("p", false); err != nil || got != "no-newline" {
		t.Fatalf("last line without newline: %q %v", got, err)
	}
}

func TestProductionKDFRoundtrip(t *testing.T) {
	if testing.Short() {
		t.Skip("argon2id with 64 MiB is slow-ish")
	}
	saved := defaultKDF
	defaultKDF = productionKDF
	defer func() { defaultKDF = saved }()
	dir := t.TempDir()
	k := openT(t, dir, BackendFile, fixedPass("p-long-passphrase", nil))
	if _, err := k.Add("prod"); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "prod.json"))
	var f struct {
		Enc encryptedSeed `json:"encrypted_seed"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	if f.Enc.Time != 3 || f.Enc.MemoryKiB != 65536 || f.Enc.Threads != 2 {
		t.Fatalf("stored params = %+v", f.Enc)
	}
	if _, err := k.Sign("prod", []byte("x")); err != nil {
		t.Fatal(err)
	}
}
