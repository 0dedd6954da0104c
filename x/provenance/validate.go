package provenance

import (
	"math/bits"
	"strings"
	"unicode/utf8"

	"github.com/tallyledger/tally/api"
	provenancev1 "github.com/tallyledger/tally/proto/tally/provenance/v1"
)

// Limits on what one message may carry. They bound the size of every
// record and, because an item is an input to at most one split, merge or
// transformation (it is consumed), the number of children any item has.
const (
	// MaxIDBytes bounds item and order ids, which appear in state keys.
	MaxIDBytes = 128
	// MaxAttributes and MaxDocuments bound what one item carries.
	MaxAttributes = 16
	MaxDocuments  = 8
	// MaxAttributeKeyBytes, MaxAttributeValueBytes bound one attribute.
	MaxAttributeKeyBytes   = 64
	MaxAttributeValueBytes = 256
	// MaxOutputs bounds the children of a split or transformation, and so
	// the children of any item.
	MaxOutputs = 100
	// MaxInputs bounds the inputs of a merge or transformation.
	MaxInputs = 32
	// maxCodeBytes bounds product codes, units, inspection types and
	// document kinds; maxLocationBytes location codes; maxNoteBytes notes
	// and reasons; maxURIBytes document URIs.
	maxCodeBytes     = 64
	maxLocationBytes = 128
	maxNoteBytes     = 256
	maxURIBytes      = 256
	maxOrderIDBytes  = 64
)

// Inspection results.
const (
	ResultPass        = "PASS"
	ResultFail        = "FAIL"
	ResultConditional = "CONDITIONAL"
)

// GS1 schemes whose values are checked: a 14-digit GTIN with a valid
// check digit, a dot, then a serial number (sgtin, one unit) or a lot
// number (lgtin, a batch) of 1 to 20 characters.
const (
	SchemeSGTIN = "sgtin"
	SchemeLGTIN = "lgtin"
)

// ValidateItemID checks an item id: "<scheme>:<value>". The scheme is 1-16
// characters of a-z, 0-9, '-', '.'; the value is printable ASCII without
// spaces. For sgtin and lgtin the value is "<GTIN-14>.<serial or lot>"
// with a valid GTIN check digit. At most 128 bytes in all.
func ValidateItemID(id string) error {
	if id == "" || len(id) > MaxIDBytes {
		return ErrInvalidItemID.Wrapf("item id %s must be 1 to %d bytes, as <scheme>:<value>", api.Quote(id), MaxIDBytes)
	}
	scheme, value, ok := strings.Cut(id, ":")
	if !ok || scheme == "" || len(scheme) > 16 || value == "" {
		return ErrInvalidItemID.Wrapf("item id %s must be <scheme>:<value>, for example lgtin:05012345678900.L42", api.Quote(id))
	}
	for _, c := range []byte(scheme) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return ErrInvalidItemID.Wrapf("item id %s: the scheme may use only a-z, 0-9, '-' and '.'", api.Quote(id))
		}
	}
	for _, c := range []byte(value) {
		if c < 0x21 || c > 0x7e {
			return ErrInvalidItemID.Wrapf("item id %s: the value may use only printable ASCII without spaces", api.Quote(id))
		}
	}
	if scheme == SchemeSGTIN || scheme == SchemeLGTIN {
		gtin, rest, ok := strings.Cut(value, ".")
		if !ok || len(gtin) != 14 || rest == "" || len(rest) > 20 {
			return ErrInvalidItemID.Wrapf("item id %s: a %s value is a 14-digit GTIN, a dot and 1 to 20 characters", api.Quote(id), scheme)
		}
		if !validGTIN(gtin) {
			return ErrInvalidItemID.Wrapf("item id %s: %s is not a GTIN-14 with a valid check digit", api.Quote(id), gtin)
		}
	}
	return nil
}

// validGTIN checks the digits and the GS1 mod-10 check digit of a GTIN-14.
func validGTIN(g string) bool {
	sum := 0
	for i := 0; i < 13; i++ {
		c := g[i]
		if c < '0' || c > '9' {
			return false
		}
		d := int(c - '0')
		if i%2 == 0 {
			d *= 3
		}
		sum += d
	}
	return g[13] >= '0' && g[13] <= '9' && int(g[13]-'0') == (10-sum%10)%10
}

// ValidateOrderID checks a recall order id: 1-64 characters of A-Z, a-z,
// 0-9, '-', '_', '.', '/'.
func ValidateOrderID(id string) error {
	if id == "" || len(id) > maxOrderIDBytes {
		return ErrInvalidOrderID.Wrapf("recall order id %s must be 1 to %d characters", api.Quote(id), maxOrderIDBytes)
	}
	for _, c := range []byte(id) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '/') {
			return ErrInvalidOrderID.Wrapf("recall order id %s may use only letters, digits, '-', '_', '.' and '/'", api.Quote(id))
		}
	}
	return nil
}

func validateAddress(field string, addr []byte) error {
	if len(addr) != api.AddressSize {
		return ErrInvalidAddress.Wrapf("%s is %d bytes; addresses are %d bytes (40 hex characters)", field, len(addr), api.AddressSize)
	}
	return nil
}

// validateCode checks a short code (product, unit, inspection type,
// document kind): 1 to max printable ASCII characters without spaces.
func validateCode(err interface {
	Wrapf(string, ...any) error
}, field, s string, max int) error {
	if s == "" || len(s) > max {
		return err.Wrapf("%s %s must be 1 to %d characters", field, api.Quote(s), max)
	}
	for _, c := range []byte(s) {
		if c < 0x21 || c > 0x7e {
			return err.Wrapf("%s %s may use only printable ASCII without spaces", field, api.Quote(s))
		}
	}
	return nil
}

func validateLocation(loc string) error {
	if loc == "" || len(loc) > maxLocationBytes {
		return ErrInvalidLocation.Wrapf("location %s must be 1 to %d characters (a GLN or another location code)", api.Quote(loc), maxLocationBytes)
	}
	for _, c := range []byte(loc) {
		if c < 0x20 || c > 0x7e {
			return ErrInvalidLocation.Wrapf("location %s may use only printable ASCII", api.Quote(loc))
		}
	}
	return nil
}

// validateNote checks free text: at most max bytes of UTF-8 without
// control characters.
func validateNote(field, s string, max int) error {
	if len(s) > max {
		return ErrInvalidText.Wrapf("%s is %d bytes; at most %d", field, len(s), max)
	}
	if !utf8.ValidString(s) {
		return ErrInvalidText.Wrapf("%s is not valid UTF-8", field)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return ErrInvalidText.Wrapf("%s may not contain control characters", field)
		}
	}
	return nil
}

func validateAttributes(attrs []*provenancev1.Attribute) error {
	if len(attrs) > MaxAttributes {
		return ErrTooManyAttributes.Wrapf("%d attributes; at most %d per item", len(attrs), MaxAttributes)
	}
	seen := make(map[string]bool, len(attrs)) // membership only; never iterated
	for i, a := range attrs {
		if a == nil {
			return ErrInvalidAttribute.Wrapf("attribute %d is empty", i)
		}
		if a.Key == "" || len(a.Key) > MaxAttributeKeyBytes {
			return ErrInvalidAttribute.Wrapf("attribute %d: key %s must be 1 to %d characters", i, api.Quote(a.Key), MaxAttributeKeyBytes)
		}
		for _, c := range []byte(a.Key) {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
				return ErrInvalidAttribute.Wrapf("attribute key %s may use only a-z, 0-9, '_', '-' and '.'", api.Quote(a.Key))
			}
		}
		if seen[a.Key] {
			return ErrInvalidAttribute.Wrapf("attribute key %q appears twice", a.Key)
		}
		seen[a.Key] = true
		if len(a.Value) > MaxAttributeValueBytes {
			return ErrInvalidAttribute.Wrapf("attribute %q: value is %d bytes; at most %d", a.Key, len(a.Value), MaxAttributeValueBytes)
		}
		if err := validateNote("attribute "+a.Key, a.Value, MaxAttributeValueBytes); err != nil {
			return ErrInvalidAttribute.Wrapf("attribute %q: value must be UTF-8 text without control characters", a.Key)
		}
	}
	return nil
}

func validateDocuments(docs []*provenancev1.Document) error {
	if len(docs) > MaxDocuments {
		return ErrTooManyDocuments.Wrapf("%d documents; at most %d per item (store the rest off chain under one index document)", len(docs), MaxDocuments)
	}
	for i, d := range docs {
		if d == nil {
			return ErrInvalidDocument.Wrapf("document %d is empty", i)
		}
		if err := validateCode(ErrInvalidDocument, "document kind", d.Kind, maxCodeBytes); err != nil {
			return err
		}
		if len(d.Sha256) != 32 {
			return ErrInvalidDocument.Wrapf("document %d: sha256 is %d bytes; a SHA-256 digest is 32", i, len(d.Sha256))
		}
		if len(d.Uri) > maxURIBytes {
			return ErrInvalidDocument.Wrapf("document %d: uri is %d bytes; at most %d", i, len(d.Uri), maxURIBytes)
		}
		if err := validateNote("document uri", d.Uri, maxURIBytes); err != nil {
			return ErrInvalidDocument.Wrapf("document %d: uri may not contain control characters", i)
		}
	}
	return nil
}

// validateGoods checks the description shared by registered items and
// transformation outputs.
func validateGoods(id, product string, quantity uint64, unit string, attrs []*provenancev1.Attribute, docs []*provenancev1.Document) error {
	if err := ValidateItemID(id); err != nil {
		return err
	}
	if err := validateCode(ErrInvalidText, "product", product, maxCodeBytes); err != nil {
		return err
	}
	if quantity == 0 {
		return ErrInvalidQuantity.Wrapf("item %s: quantity must be above zero", id)
	}
	if err := validateCode(ErrInvalidText, "unit", unit, 16); err != nil {
		return err
	}
	if err := validateAttributes(attrs); err != nil {
		return err
	}
	return validateDocuments(docs)
}

// distinctIDs checks a list of item ids: each valid, none twice.
func distinctIDs(ids []string) error {
	seen := make(map[string]bool, len(ids)) // membership only; never iterated
	for _, id := range ids {
		if err := ValidateItemID(id); err != nil {
			return err
		}
		if seen[id] {
			return ErrDuplicateInput.Wrapf("item %s appears twice; name each item once", id)
		}
		seen[id] = true
	}
	return nil
}

func validateRegisterItem(m *provenancev1.MsgRegisterItem) error {
	if err := validateGoods(m.Id, m.Product, m.Quantity, m.Unit, m.Attributes, m.Documents); err != nil {
		return err
	}
	return validateLocation(m.Origin)
}

func validateOfferCustody(m *provenancev1.MsgOfferCustody) error {
	if err := ValidateItemID(m.ItemId); err != nil {
		return err
	}
	if err := validateAddress("to", m.To); err != nil {
		return err
	}
	if m.TtlSeconds < 0 {
		return ErrInvalidTTL.Wrapf("ttl_seconds is %d; give a positive number of seconds, or 0 for the chain default", m.TtlSeconds)
	}
	return validateLocation(m.Location)
}

func validateAcceptCustody(m *provenancev1.MsgAcceptCustody) error {
	if err := ValidateItemID(m.ItemId); err != nil {
		return err
	}
	return validateLocation(m.Location)
}

func validateRejectCustody(m *provenancev1.MsgRejectCustody) error {
	if err := ValidateItemID(m.ItemId); err != nil {
		return err
	}
	return validateNote("reason", m.Reason, maxNoteBytes)
}

func validateWithdrawOffer(m *provenancev1.MsgWithdrawOffer) error {
	return ValidateItemID(m.ItemId)
}

func validateAccreditInspector(m *provenancev1.MsgAccreditInspector) error {
	return validateAddress("inspector", m.Inspector)
}

func validateWithdrawAccreditation(m *provenancev1.MsgWithdrawAccreditation) error {
	if err := validateAddress("inspector", m.Inspector); err != nil {
		return err
	}
	return validateNote("reason", m.Reason, maxNoteBytes)
}

func validateAttest(m *provenancev1.MsgAttest) error {
	if err := ValidateItemID(m.ItemId); err != nil {
		return err
	}
	if err := validateCode(ErrInvalidInspection, "inspection_type", m.InspectionType, maxCodeBytes); err != nil {
		return err
	}
	if m.Result != ResultPass && m.Result != ResultFail && m.Result != ResultConditional {
		return ErrInvalidResult.Wrapf("result %s: use %s, %s or %s", api.Quote(m.Result), ResultPass, ResultFail, ResultConditional)
	}
	if len(m.EvidenceSha256) != 32 {
		return ErrInvalidEvidence.Wrapf("evidence_sha256 is %d bytes; give the 32-byte SHA-256 of the evidence file", len(m.EvidenceSha256))
	}
	if err := validateLocation(m.Location); err != nil {
		return err
	}
	return validateNote("note", m.Note, maxNoteBytes)
}

func validateSplit(m *provenancev1.MsgSplit) error {
	if err := ValidateItemID(m.ItemId); err != nil {
		return err
	}
	if len(m.Parts) < 2 || len(m.Parts) > MaxOutputs {
		return ErrInvalidParts.Wrapf("a split has 2 to %d parts; got %d", MaxOutputs, len(m.Parts))
	}
	ids := []string{m.ItemId}
	var sum uint64
	for _, p := range m.Parts {
		if p == nil {
			return ErrInvalidParts.Wrapf("a split part is empty")
		}
		if p.Quantity == 0 {
			return ErrInvalidQuantity.Wrapf("part %s: quantity must be above zero", p.Id)
		}
		var carry uint64
		if sum, carry = bits.Add64(sum, p.Quantity, 0); carry != 0 {
			return ErrInvalidQuantity.Wrapf("part quantities overflow 64 bits")
		}
		ids = append(ids, p.Id)
	}
	if err := distinctIDs(ids); err != nil {
		return err
	}
	return validateLocation(m.Location)
}

func validateMerge(m *provenancev1.MsgMerge) error {
	if len(m.ItemIds) < 2 || len(m.ItemIds) > MaxInputs {
		return ErrInvalidParts.Wrapf("a merge has 2 to %d inputs; got %d", MaxInputs, len(m.ItemIds))
	}
	if err := distinctIDs(append(append([]string{}, m.ItemIds...), m.NewId)); err != nil {
		return err
	}
	return validateLocation(m.Location)
}

func validateTransform(m *provenancev1.MsgTransform) error {
	if len(m.ItemIds) < 1 || len(m.ItemIds) > MaxInputs {
		return ErrInvalidParts.Wrapf("a transformation has 1 to %d inputs; got %d", MaxInputs, len(m.ItemIds))
	}
	if len(m.Outputs) < 1 || len(m.Outputs) > MaxOutputs {
		return ErrInvalidParts.Wrapf("a transformation has 1 to %d outputs; got %d", MaxOutputs, len(m.Outputs))
	}
	ids := append([]string{}, m.ItemIds...)
	for _, o := range m.Outputs {
		if o == nil {
			return ErrInvalidParts.Wrapf("a transformation output is empty")
		}
		if err := validateGoods(o.Id, o.Product, o.Quantity, o.Unit, o.Attributes, o.Documents); err != nil {
			return err
		}
		ids = append(ids, o.Id)
	}
	if err := distinctIDs(ids); err != nil {
		return err
	}
	if err := validateCode(ErrInvalidText, "process", m.Process, maxCodeBytes); err != nil {
		return err
	}
	return validateLocation(m.Location)
}

func validateRetire(m *provenancev1.MsgRetire) error {
	if err := ValidateItemID(m.ItemId); err != nil {
		return err
	}
	if m.Status != provenancev1.ItemStatus_ITEM_STATUS_CONSUMED && m.Status != provenancev1.ItemStatus_ITEM_STATUS_DESTROYED {
		return ErrInvalidStatus.Wrapf("status %s: an item is retired as consumed or destroyed", m.Status)
	}
	if err := validateLocation(m.Location); err != nil {
		return err
	}
	return validateNote("note", m.Note, maxNoteBytes)
}

func validateRecall(m *provenancev1.MsgRecall) error {
	if err := ValidateOrderID(m.OrderId); err != nil {
		return err
	}
	if err := ValidateItemID(m.ItemId); err != nil {
		return err
	}
	if m.Reason == "" {
		return ErrInvalidText.Wrapf("give the reason for the recall; custodians act on it")
	}
	return validateNote("reason", m.Reason, maxNoteBytes)
}

func validateAcknowledgeRecall(m *provenancev1.MsgAcknowledgeRecall) error {
	if err := ValidateItemID(m.ItemId); err != nil {
		return err
	}
	return validateNote("note", m.Note, maxNoteBytes)
}
