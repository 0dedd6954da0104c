package client

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	taxv1 "github.com/tallyledger/tally/proto/tally/tax/v1"
)

// Commitments that keep taxpayers and payments unnamed on the chain.
//
// A taxpayer has a reference T (a pseudonym, as before) and a clearance
// secret S, both known to the taxpayer and their tax authority and never
// sent to the chain. For each tax type and period:
//
//	salt  = HMAC-SHA256(S, "tally/tax/period-salt/v1" 0 type 0 period)
//	payer = SHA-256("tally/tax/payer/v1" 0 T type 0 period 0 salt)
//
// A collector files a receipt under payer. The taxpayer shows a relying
// party the periods they choose by handing over T and those periods' salts
// (a ClearanceGrant); the party recomputes each payer commitment and reads
// its proven total. HMAC is one-way in S, so salts of some periods reveal
// nothing of the salts — and so the commitments — of any other period, and
// no key of the state groups one taxpayer's receipts.
const (
	domainPeriodSalt = "tally/tax/period-salt/v1"
	domainPayer      = "tally/tax/payer/v1"
	domainBankRef    = "tally/tax/bank-reference/v1"
)

// CommitmentSize is the size of a salt, a payer commitment and a
// bank-reference commitment (the contract's).
const CommitmentSize = api.CommitmentSize

// PeriodSalt is the salt of one tax type and period under a taxpayer's
// clearance secret.
func PeriodSalt(secret []byte, taxType, period string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(domainPeriodSalt))
	m.Write([]byte{0})
	m.Write([]byte(taxType))
	m.Write([]byte{0})
	m.Write([]byte(period))
	return m.Sum(nil)
}

// PayerCommitment is the payer commitment under which a receipt of
// taxpayer for taxType and period is filed (MsgIssueReceipt.payer).
func PayerCommitment(taxpayer []byte, taxType, period string, salt []byte) []byte {
	h := sha256.New()
	h.Write([]byte(domainPayer))
	h.Write([]byte{0})
	h.Write(taxpayer)
	h.Write([]byte(taxType))
	h.Write([]byte{0})
	h.Write([]byte(period))
	h.Write([]byte{0})
	h.Write(salt)
	return h.Sum(nil)
}

// PayerCommitmentFromSecret is PayerCommitment with the salt derived from
// the taxpayer's clearance secret: what a collector (or the taxpayer's own
// payment slip) computes for a receipt.
func PayerCommitmentFromSecret(taxpayer, secret []byte, taxType, period string) []byte {
	return PayerCommitment(taxpayer, taxType, period, PeriodSalt(secret, taxType, period))
}

// BankReferenceCommitment is the commitment of a payment's bank reference
// under the collecting agency's reference key (a secret the agency keeps
// off chain): stable, so the chain still refuses a payment receipted twice,
// but opaque, so a name typed into a reference never reaches the chain.
func BankReferenceCommitment(referenceKey []byte, bankReference string) []byte {
	m := hmac.New(sha256.New, referenceKey)
	m.Write([]byte(domainBankRef))
	m.Write([]byte{0})
	m.Write([]byte(bankReference))
	return m.Sum(nil)
}

// NewClearanceGrant is what a taxpayer hands a relying party to show tax
// type taxType over from..to (of the tax type's period kind, read from the
// period strings): the taxpayer reference and one salt per period. It
// reveals nothing of other periods or tax types.
func NewClearanceGrant(taxpayer, secret []byte, taxType, from, to string) (*taxv1.ClearanceGrant, error) {
	if len(taxpayer) != CommitmentSize {
		return nil, fmt.Errorf("a taxpayer reference is %d bytes; got %d", CommitmentSize, len(taxpayer))
	}
	if len(secret) < 16 {
		return nil, fmt.Errorf("a clearance secret is at least 16 bytes; got %d", len(secret))
	}
	periods, err := grantPeriods(taxType, from, to)
	if err != nil {
		return nil, err
	}
	g := &taxv1.ClearanceGrant{Taxpayer: taxpayer, TaxType: taxType, FromPeriod: from, ToPeriod: to}
	for _, p := range periods {
		g.Salts = append(g.Salts, PeriodSalt(secret, taxType, p))
	}
	return g, nil
}

// ClearanceRequestOf turns a grant into the request a node answers: the
// payer commitment of each period, in order, and no taxpayer reference.
func ClearanceRequestOf(g *taxv1.ClearanceGrant) (*taxv1.ClearanceRequest, error) {
	if len(g.Taxpayer) != CommitmentSize {
		return nil, fmt.Errorf("the grant's taxpayer reference is %d bytes; want %d", len(g.Taxpayer), CommitmentSize)
	}
	periods, err := grantPeriods(g.TaxType, g.FromPeriod, g.ToPeriod)
	if err != nil {
		return nil, err
	}
	if len(periods) != len(g.Salts) {
		return nil, fmt.Errorf("the grant covers %s to %s, %d periods, but carries %d salts", g.FromPeriod, g.ToPeriod, len(periods), len(g.Salts))
	}
	req := &taxv1.ClearanceRequest{TaxType: g.TaxType, FromPeriod: g.FromPeriod, ToPeriod: g.ToPeriod}
	for i, p := range periods {
		if len(g.Salts[i]) != CommitmentSize {
			return nil, fmt.Errorf("the salt of %s is %d bytes; want %d", p, len(g.Salts[i]), CommitmentSize)
		}
		req.Payers = append(req.Payers, PayerCommitment(g.Taxpayer, g.TaxType, p, g.Salts[i]))
	}
	return req, nil
}

// EncodeGrant writes a grant as one URL-safe token, to hand over on paper,
// in a link or a QR code.
func EncodeGrant(g *taxv1.ClearanceGrant) (string, error) {
	b, err := proto.Marshal(g)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// DecodeGrant reads a token EncodeGrant wrote.
func DecodeGrant(token string) (*taxv1.ClearanceGrant, error) {
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return nil, fmt.Errorf("a clearance grant is a base64url token: %w", err)
	}
	g := &taxv1.ClearanceGrant{}
	if err := proto.Unmarshal(b, g); err != nil {
		return nil, fmt.Errorf("the token is not a clearance grant: %w", err)
	}
	return g, nil
}

// grantPeriods lists the periods a grant covers, from..to of the kind the
// first is written in (the tax type's own kind is checked by the node).
func grantPeriods(taxType, from, to string) ([]string, error) {
	p, err := api.ParsePeriod(from)
	if err != nil {
		return nil, err
	}
	return api.PeriodRange(from, to, p.Kind, taxType)
}
