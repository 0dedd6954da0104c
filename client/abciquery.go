package client

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	rpcclient "github.com/cometbft/cometbft/rpc/client"
)

// queryAnswer is the part of an abci_query response a verified read uses.
type queryAnswer struct {
	Code      uint32     `json:"code"`
	Log       string     `json:"log"`
	Codespace string     `json:"codespace"`
	Key       []byte     `json:"key"`
	Value     []byte     `json:"value"`
	Height    jsonInt64  `json:"height"`
	ProofOps  *proofOpsJ `json:"proofOps"`
}

type proofOpsJ struct {
	Ops []struct {
		Type string `json:"type"`
		Key  []byte `json:"key"`
		Data []byte `json:"data"`
	} `json:"ops"`
}

// jsonInt64 accepts an int64 written as a JSON string (CometBFT's way) or number.
type jsonInt64 int64

func (n *jsonInt64) UnmarshalJSON(b []byte) error {
	v, err := strconv.ParseInt(strings.Trim(string(b), `"`), 10, 64)
	*n = jsonInt64(v)
	return err
}

// queryHTTP is the one JSON-RPC call on a verified read's hot path, done
// with encoding/json: CometBFT's RPC client decodes abci_query answers
// through gogoproto's reflective jsonpb, which costs several times more
// CPU than checking the proof does. The answer is checked the same way
// whichever decoder read it.
type queryHTTP struct {
	url  string
	http *http.Client
}

func newQueryHTTP(addr string) *queryHTTP {
	u := addr
	switch {
	case strings.HasPrefix(u, "tcp://"):
		u = "http://" + strings.TrimPrefix(u, "tcp://")
	case strings.HasPrefix(u, "http://"), strings.HasPrefix(u, "https://"):
	default:
		return nil // unix sockets and the like: use the RPC client
	}
	return &queryHTTP{url: u, http: &http.Client{
		Timeout:   rpcTimeoutSeconds * time.Second,
		Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 64, Proxy: http.ProxyFromEnvironment},
	}}
}

// maxQueryResponse bounds an answer read from an untrusted node.
const maxQueryResponse = 64 << 20

func (q *queryHTTP) query(ctx context.Context, path string, data []byte, height int64) (*queryAnswer, error) {
	req, err := json.Marshal(map[string]any{
		"jsonrpc": "2.0", "id": 1, "method": "abci_query",
		"params": map[string]any{"path": path, "data": strings.ToUpper(hex.EncodeToString(data)), "height": strconv.FormatInt(height, 10), "prove": true},
	})
	if err != nil {
		return nil, err
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, q.url, bytes.NewReader(req))
	if err != nil {
		return nil, err
	}
	hreq.Header.Set("Content-Type", "application/json")
	res, err := q.http.Do(hreq)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxQueryResponse))
	if err != nil {
		return nil, err
	}
	var out struct {
		Result *struct {
			Response queryAnswer `json:"response"`
		} `json:"result"`
		Error *struct {
			Message string `json:"message"`
			Data    string `json:"data"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("abci_query answer (HTTP %d) does not decode: %w", res.StatusCode, err)
	}
	if out.Error != nil {
		return nil, fmt.Errorf("abci_query: %s %s", out.Error.Message, out.Error.Data)
	}
	if out.Result == nil {
		return nil, fmt.Errorf("abci_query: empty answer (HTTP %d)", res.StatusCode)
	}
	return &out.Result.Response, nil
}

// proveQuery asks n for path/data at height with a proof.
func (n *node) proveQuery(ctx context.Context, path string, data []byte, height int64) (*queryAnswer, error) {
	if n.q != nil {
		return n.q.query(ctx, path, data, height)
	}
	res, err := n.c.RPC.ABCIQueryWithOptions(ctx, path, data, rpcclient.ABCIQueryOptions{Height: height, Prove: true})
	if err != nil {
		return nil, err
	}
	r := res.Response
	a := &queryAnswer{Code: r.Code, Log: r.Log, Codespace: r.Codespace, Key: r.Key, Value: r.Value, Height: jsonInt64(r.Height)}
	if r.ProofOps != nil {
		a.ProofOps = &proofOpsJ{}
		for _, op := range r.ProofOps.Ops {
			a.ProofOps.Ops = append(a.ProofOps.Ops, struct {
				Type string `json:"type"`
				Key  []byte `json:"key"`
				Data []byte `json:"data"`
			}{op.Type, op.Key, op.Data})
		}
	}
	return a, nil
}
