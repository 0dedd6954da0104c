package node

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	cmtjson "github.com/cometbft/cometbft/libs/json"
	"github.com/cometbft/cometbft/privval"
	"github.com/cometbft/cometbft/types"

	"github.com/tallyledger/tally/app"
)

// Local backups of a stopped node (tallyd snapshot take|restore).
//
// A backup is a directory holding copies of the node home's data/ and
// config/ and a MANIFEST.json naming the chain, the height and app hash the
// state was saved at, and every file with its size and SHA-256. It is a
// copy of the files, not an export: restoring it brings back the node
// exactly, block store, indexes and all, and it catches up from its peers
// from there. (ABCI state-sync snapshots, which a new node fetches from
// peers, are a different thing: see state sync in the README.)
//
// The backup holds the node's keys (config/node_key.json and, unless a
// remote signer holds it, config/priv_validator_key.json): keep it as
// carefully as the node itself.

// BackupFormat names the layout of a backup directory.
const BackupFormat = "tally-backup/1"

// BackupManifestFile is the manifest's name inside a backup directory.
const BackupManifestFile = "MANIFEST.json"

// BackupManifest describes a backup.
type BackupManifest struct {
	Format  string       `json:"format"`
	ChainID string       `json:"chain_id"`
	Height  int64        `json:"height"`
	AppHash string       `json:"app_hash"`
	Version string       `json:"tally_version"`
	Taken   time.Time    `json:"taken"`
	Files   []BackupFile `json:"files"`
}

// BackupFile is one file of a backup, by its path relative to the home.
type BackupFile struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// backedUpDirs are the parts of a home a backup copies.
var backedUpDirs = []string{"config", "data"}

// TakeBackup copies the stopped node at home into dest (which must not
// exist yet) and writes its manifest.
func TakeBackup(home, dest string) (*BackupManifest, error) {
	comet, appCfg, err := LoadConfigs(home)
	if err != nil {
		return nil, err
	}
	doc, err := types.GenesisDocFromFile(comet.GenesisFile())
	if err != nil {
		return nil, fmt.Errorf("reading the node's genesis: %w", err)
	}
	m := &BackupManifest{Format: BackupFormat, ChainID: doc.ChainID, Version: app.Version, Taken: time.Now().UTC()}
	if _, err := os.Stat(StateDir(home)); err == nil {
		st, err := openStopped(appCfg.StoreOptions(StateDir(home)))
		if err != nil {
			return nil, err
		}
		var hash []byte
		m.Height, hash = st.LastCommit()
		m.AppHash = fmt.Sprintf("%X", hash)
		if err := st.Close(); err != nil {
			return nil, err
		}
	}
	if _, err := os.Stat(dest); err == nil {
		return nil, fmt.Errorf("%s already exists: give a new directory for the backup", dest)
	}
	if err := os.MkdirAll(dest, 0o700); err != nil {
		return nil, err
	}
	for _, dir := range backedUpDirs {
		err := filepath.WalkDir(filepath.Join(home, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			if !d.Type().IsRegular() {
				return nil // sockets, symlinks: not node state
			}
			rel, err := filepath.Rel(home, path)
			if err != nil {
				return err
			}
			f, err := copyHashed(path, filepath.Join(dest, rel))
			if err != nil {
				return err
			}
			f.Path = filepath.ToSlash(rel)
			m.Files = append(m.Files, f)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("copying %s: %w", dir, err)
		}
	}
	sort.Slice(m.Files, func(i, j int) bool { return m.Files[i].Path < m.Files[j].Path })
	bz, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	return m, os.WriteFile(filepath.Join(dest, BackupManifestFile), append(bz, '\n'), 0o600)
}

// copyHashed copies src to dst (creating dst's folder) and returns its
// size and SHA-256.
func copyHashed(src, dst string) (BackupFile, error) {
	in, err := os.Open(src)
	if err != nil {
		return BackupFile{}, err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return BackupFile{}, err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return BackupFile{}, err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return BackupFile{Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, err
}

// VerifyBackup reads src's manifest and checks every file against it: each
// listed file present with its size and checksum, no file unlisted, and
// the backup's own genesis of the manifest's chain.
func VerifyBackup(src string) (*BackupManifest, error) {
	bz, err := os.ReadFile(filepath.Join(src, BackupManifestFile))
	if err != nil {
		return nil, fmt.Errorf("%s is not a backup (no readable %s): %w", src, BackupManifestFile, err)
	}
	m := &BackupManifest{}
	if err := json.Unmarshal(bz, m); err != nil {
		return nil, fmt.Errorf("%s: %w", BackupManifestFile, err)
	}
	if m.Format != BackupFormat {
		return nil, fmt.Errorf("%s: format %q, this tallyd reads %q", BackupManifestFile, m.Format, BackupFormat)
	}
	listed := map[string]BackupFile{}
	for _, f := range m.Files {
		if !filepath.IsLocal(filepath.FromSlash(f.Path)) || !underBackedUpDir(f.Path) {
			return nil, fmt.Errorf("%s lists %q, which is not a path inside config/ or data/", BackupManifestFile, f.Path)
		}
		listed[f.Path] = f
	}
	seen := 0
	for _, dir := range backedUpDirs {
		err := filepath.WalkDir(filepath.Join(src, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, err := filepath.Rel(src, path)
			if err != nil {
				return err
			}
			rel = filepath.ToSlash(rel)
			want, ok := listed[rel]
			if !ok {
				return fmt.Errorf("%s is in the backup but not in its manifest: the backup was changed after it was taken", rel)
			}
			got, err := hashFile(path)
			if err != nil {
				return err
			}
			if got.Size != want.Size || got.SHA256 != want.SHA256 {
				return fmt.Errorf("%s is damaged: %d bytes with SHA-256 %s, the manifest says %d bytes with %s", rel, got.Size, got.SHA256, want.Size, want.SHA256)
			}
			seen++
			return nil
		})
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("the backup has no %s/ folder: it is incomplete", dir)
		}
		if err != nil {
			return nil, fmt.Errorf("checking the backup: %w", err)
		}
	}
	if seen != len(listed) {
		return nil, fmt.Errorf("the backup is missing %d of the %d files its manifest lists: it is incomplete", len(listed)-seen, len(listed))
	}
	doc, err := types.GenesisDocFromFile(filepath.Join(src, "config", "genesis.json"))
	if err != nil {
		return nil, fmt.Errorf("the backup's genesis: %w", err)
	}
	if doc.ChainID != m.ChainID {
		return nil, fmt.Errorf("the backup's genesis is chain %q but its manifest says %q", doc.ChainID, m.ChainID)
	}
	return m, nil
}

func underBackedUpDir(p string) bool {
	for _, dir := range backedUpDirs {
		if strings.HasPrefix(p, dir+"/") {
			return true
		}
	}
	return false
}

// hashFile returns a file's size and SHA-256.
func hashFile(path string) (BackupFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return BackupFile{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	return BackupFile{Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, err
}

// RestoreBackup checks the backup at src and installs it into home, whose
// node must be stopped. A home that already holds a chain must hold the
// backup's; its config/ and data/ are kept beside the restored ones as
// config.before-restore-<unix time> and data.before-restore-<unix time>.
//
// One file is not simply restored: the validator's sign state
// (priv_validator_state.json). If the home's own is further on than the
// backup's, it is kept, so the validator never signs again at a height it
// signed after the backup was taken (a double sign).
func RestoreBackup(home, src string) (*BackupManifest, error) {
	m, err := VerifyBackup(src)
	if err != nil {
		return nil, err
	}
	var keepSign []byte
	var signFile string
	if _, err := os.Stat(filepath.Join(home, "config", "genesis.json")); err == nil {
		comet, appCfg, err := LoadConfigs(home)
		if err != nil {
			return nil, err
		}
		doc, err := types.GenesisDocFromFile(comet.GenesisFile())
		if err != nil {
			return nil, fmt.Errorf("reading the node's genesis: %w", err)
		}
		if doc.ChainID != m.ChainID {
			return nil, fmt.Errorf("the backup is of chain %q but this home runs chain %q: restore a backup of this chain, or into an empty home", m.ChainID, doc.ChainID)
		}
		if _, err := os.Stat(StateDir(home)); err == nil {
			st, err := openStopped(appCfg.StoreOptions(StateDir(home)))
			if err != nil {
				return nil, err
			}
			st.Close()
		}
		signFile = comet.PrivValidatorStateFile()
		if rel, err := filepath.Rel(home, signFile); err == nil && filepath.IsLocal(rel) {
			keepSign = newerSignState(signFile, filepath.Join(src, rel))
		}
	}
	stamp := fmt.Sprint(time.Now().Unix())
	for _, dir := range backedUpDirs {
		cur := filepath.Join(home, dir)
		if _, err := os.Stat(cur); err == nil {
			if err := os.Rename(cur, cur+".before-restore-"+stamp); err != nil {
				return nil, fmt.Errorf("keeping the current %s/: %w", dir, err)
			}
		}
	}
	for _, f := range m.Files {
		if _, err := copyHashed(filepath.Join(src, filepath.FromSlash(f.Path)), filepath.Join(home, filepath.FromSlash(f.Path))); err != nil {
			return nil, fmt.Errorf("restoring %s: %w", f.Path, err)
		}
	}
	if keepSign != nil {
		if err := os.WriteFile(signFile, keepSign, 0o600); err != nil {
			return nil, fmt.Errorf("keeping the validator's newer sign state: %w", err)
		}
	}
	return m, nil
}

// newerSignState returns the bytes of the sign state file at current if
// it is further on than the backup's at backed; nil otherwise.
func newerSignState(current, backed string) []byte {
	read := func(path string) ([]byte, *privval.FilePVLastSignState) {
		bz, err := os.ReadFile(path)
		if err != nil {
			return nil, nil
		}
		s := &privval.FilePVLastSignState{}
		if cmtjson.Unmarshal(bz, s) != nil {
			return nil, nil
		}
		return bz, s
	}
	bz, cur := read(current)
	_, old := read(backed)
	if cur == nil || (old != nil && !signedLater(cur, old)) {
		return nil
	}
	return bz
}

// signedLater reports whether a is at a later height/round/step than b.
func signedLater(a, b *privval.FilePVLastSignState) bool {
	if a.Height != b.Height {
		return a.Height > b.Height
	}
	if a.Round != b.Round {
		return a.Round > b.Round
	}
	return a.Step > b.Step
}
