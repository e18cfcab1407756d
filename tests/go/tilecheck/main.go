// Command tilecheck is an independent client of a drawledger log served as C2SP
// tlog-tiles (docs/SPEC.md section 19), built only on Go's golang.org/x/mod/sumdb/note
// and golang.org/x/mod/sumdb/tlog: it verifies the checkpoint's signature with the log's
// vkey, reads hash tiles through tlog.TileHashReader (which authenticates every tile
// against the signed root), checks inclusion proofs for the first, the last and 20
// random entries (their bytes from an export's entries.jsonl, hashed here), and the
// consistency of an older published checkpoint with the latest.
//
// Usage: tilecheck TILES_DIR_OR_URL VKEY ENTRIES_JSONL OLD_CHECKPOINT_NOTE SEED
// It prints one JSON object and exits 0, or names what failed and exits 1.
package main

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type source struct{ base string }

// get reads one file of the tile log; ok is false when it is not there.
func (s source) get(path string) (data []byte, ok bool, err error) {
	if strings.HasPrefix(s.base, "http://") || strings.HasPrefix(s.base, "https://") {
		resp, err := http.Get(strings.TrimRight(s.base, "/") + "/" + path)
		if err != nil {
			return nil, false, err
		}
		defer resp.Body.Close()
		if resp.StatusCode == http.StatusNotFound {
			return nil, false, nil
		}
		if resp.StatusCode != http.StatusOK {
			return nil, false, fmt.Errorf("%s: HTTP %d", path, resp.StatusCode)
		}
		data, err = io.ReadAll(resp.Body)
		return data, err == nil, err
	}
	data, err = os.ReadFile(filepath.Join(s.base, filepath.FromSlash(path)))
	if os.IsNotExist(err) {
		return nil, false, nil
	}
	return data, err == nil, err
}

// tiles maps x/mod's tile names (tile/8/L/N, height in the path) onto tlog-tiles' ones
// (tile/L/N: the height is fixed at 8), falling back from a partial tile to the full one.
type tiles struct{ src source }

func (t tiles) Height() int { return 8 }

func (t tiles) ReadTiles(list []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(list))
	for i, tile := range list {
		path := "tile/" + strings.TrimPrefix(tile.Path(), "tile/8/")
		data, ok, err := t.src.get(path)
		if err == nil && !ok && tile.W < 256 {
			full := tile
			full.W = 256
			data, ok, err = t.src.get("tile/" + strings.TrimPrefix(full.Path(), "tile/8/"))
			if ok && len(data) >= tile.W*tlog.HashSize {
				data = data[:tile.W*tlog.HashSize]
			}
		}
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("%s: missing", path)
		}
		out[i] = data
	}
	return out, nil
}

func (t tiles) SaveTiles([]tlog.Tile, [][]byte) {}

// checkpoint opens a signed checkpoint note with the log's key and parses its body:
// origin, tree size, base64 root (tlog-checkpoint).
func checkpoint(msg []byte, verifier note.Verifier) (string, tlog.Tree, error) {
	n, err := note.Open(msg, note.VerifierList(verifier))
	if err != nil {
		return "", tlog.Tree{}, err
	}
	lines := strings.SplitN(n.Text, "\n", 4)
	if len(lines) < 4 {
		return "", tlog.Tree{}, fmt.Errorf("not a checkpoint: %q", n.Text)
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || strconv.FormatInt(size, 10) != lines[1] {
		return "", tlog.Tree{}, fmt.Errorf("bad tree size %q", lines[1])
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != tlog.HashSize {
		return "", tlog.Tree{}, fmt.Errorf("bad root hash %q", lines[2])
	}
	var tree tlog.Tree
	tree.N = size
	copy(tree.Hash[:], root)
	return lines[0], tree, nil
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "tilecheck: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	if len(os.Args) != 6 {
		fail("usage: tilecheck TILES VKEY ENTRIES_JSONL OLD_CHECKPOINT SEED")
	}
	src := source{os.Args[1]}
	verifier, err := note.NewVerifier(os.Args[2])
	if err != nil {
		fail("log vkey: %v", err)
	}
	head, ok, err := src.get("checkpoint")
	if err != nil || !ok {
		fail("checkpoint: %v (found: %v)", err, ok)
	}
	origin, tree, err := checkpoint(head, verifier)
	if err != nil {
		fail("checkpoint: %v", err)
	}
	oldMsg, err := os.ReadFile(os.Args[4])
	if err != nil {
		fail("old checkpoint: %v", err)
	}
	oldOrigin, old, err := checkpoint(oldMsg, verifier)
	if err != nil || oldOrigin != origin {
		fail("old checkpoint: %v (origin %q)", err, oldOrigin)
	}
	reader := tlog.TileHashReader(tree, tiles{src})
	root, err := tlog.TreeHash(tree.N, reader)
	if err != nil || root != tree.Hash {
		fail("tree hash from the tiles: %v (%x, signed %x)", err, root, tree.Hash)
	}

	fh, err := os.Open(os.Args[3])
	if err != nil {
		fail("entries: %v", err)
	}
	defer fh.Close()
	var records [][]byte
	scan := bufio.NewScanner(fh)
	scan.Buffer(make([]byte, 0, 1<<16), 1<<21)
	for scan.Scan() && int64(len(records)) < tree.N {
		records = append(records, append([]byte(nil), scan.Bytes()...))
	}
	if int64(len(records)) != tree.N {
		fail("entries.jsonl holds %d entries, the checkpoint %d", len(records), tree.N)
	}
	seed, _ := strconv.ParseInt(os.Args[5], 10, 64)
	rng := rand.New(rand.NewSource(seed))
	checked := []int64{0, tree.N - 1}
	for i := 0; i < 20; i++ {
		checked = append(checked, rng.Int63n(tree.N))
	}
	for _, i := range checked {
		proof, err := tlog.ProveRecord(tree.N, i, reader)
		if err != nil {
			fail("inclusion proof of entry %d: %v", i, err)
		}
		if err := tlog.CheckRecord(proof, tree.N, tree.Hash, i, tlog.RecordHash(records[i])); err != nil {
			fail("entry %d not in the tree: %v", i, err)
		}
	}
	proof, err := tlog.ProveTree(tree.N, old.N, reader)
	if err != nil {
		fail("consistency proof %d -> %d: %v", old.N, tree.N, err)
	}
	if err := tlog.CheckTree(proof, tree.N, tree.Hash, old.N, old.Hash); err != nil {
		fail("tree %d does not extend tree %d: %v", tree.N, old.N, err)
	}
	out, _ := json.Marshal(map[string]any{"origin": origin, "size": tree.N,
		"root": base64.StdEncoding.EncodeToString(tree.Hash[:]), "inclusion": checked,
		"consistency": []int64{old.N, tree.N}})
	fmt.Println(string(out))
}
