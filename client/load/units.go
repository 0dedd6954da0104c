package load

import (
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
)

// usualUnits is what one message of each type the mix sends used as it
// ran, besides the transaction's own base and bytes and the message's own
// bytes written once, at most, in the states the mix builds: funds
// movements that take from one tranche (the setup's appropriation and
// allocation are far larger than any movement of the run), items passed
// along a chain of producers, fresh members, recipients and receipts.
// Measured over TestMixedRunCommitsEveryModulesRecords (every transaction
// of the run; a handler that changes what it charges shows there as
// tx/30). A message type the mix does not send has none.
var usualUnits = map[string]uint64{
	"tally.agency.v1.MsgAddMember":         5_898,
	"tally.funds.v1.MsgAppropriate":        22_805,
	"tally.funds.v1.MsgAllocate":           16_684,
	"tally.funds.v1.MsgFund":               18_798,
	"tally.benefits.v1.MsgEnrol":           4_620,
	"tally.tax.v1.MsgIssueReceipt":         15_150,
	"tally.provenance.v1.MsgRegisterItem":  6_139,
	"tally.provenance.v1.MsgOfferCustody":  11_230,
	"tally.provenance.v1.MsgAcceptCustody": 12_804,
}

// unitMarginPercent is the margin declared over usualUnits: a run's state
// grows (longer sequence numbers, a second offer of an item), and a
// transaction that passes its declared limit fails and spends its nonce.
const unitMarginPercent = 20

// MessageUnits is what the mix declares msgs to use beyond their
// transaction's own base and bytes (client.TxOptions.MessageUnits): for
// each message its usual units with the margin, plus its bytes as written
// once to state. It is 0, declaring nothing, when one of msgs is of a type
// the mix does not send; the chain then counts the transaction at its
// messages' route bounds.
//
// A declared limit near what a transaction uses is what lets a block hold
// as many of the mix's transactions as max_block_units allows: the route
// bounds count a funds movement at the many-tranche walk it may meet (an
// allocation at about 92,000 units against the 19,000 it uses here).
func MessageUnits(msgs ...*txv1.Msg) uint64 {
	var n uint64
	for _, m := range msgs {
		r := m.ProtoReflect()
		fd := r.WhichOneof(r.Descriptor().Oneofs().ByName("sum"))
		if fd == nil {
			return 0
		}
		inner := r.Get(fd).Message().Interface()
		usual, ok := usualUnits[string(inner.ProtoReflect().Descriptor().FullName())]
		if !ok {
			return 0
		}
		n += usual*(100+unitMarginPercent)/100 + api.WriteByteUnits*uint64(proto.Size(inner))
	}
	return n
}

// MessageUnits is what the job's transaction declares its messages to use
// (MessageUnits of Msgs).
func (j *Job) MessageUnits() uint64 { return MessageUnits(j.Msgs()...) }
