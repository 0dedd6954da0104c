package node

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"
)

// SnapshotInfo is one state-sync snapshot a node holds on disk.
type SnapshotInfo struct {
	Height int64
	Bytes  int64
	// Written is when the snapshot's metadata (its last file) was written.
	Written time.Time
}

// Snapshots lists the whole snapshots in home's data/snapshots, newest
// first (`tallyd status`). A folder without its metadata, or one still
// being written (*.tmp), is not a snapshot.
func Snapshots(home string) ([]SnapshotInfo, error) {
	dir := SnapshotDir(home)
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []SnapshotInfo
	for _, e := range entries {
		h, err := strconv.ParseInt(e.Name(), 10, 64)
		if err != nil || !e.IsDir() || h <= 0 {
			continue
		}
		fi, err := os.Stat(filepath.Join(dir, e.Name(), "metadata"))
		if err != nil {
			continue
		}
		out = append(out, SnapshotInfo{Height: h, Bytes: DirSize(filepath.Join(dir, e.Name())), Written: fi.ModTime()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Height > out[j].Height })
	return out, nil
}
