package testnet

import (
	"context"
	"crypto/sha256"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/client/keys"
	provenancev1 "github.com/tallyledger/tally/proto/tally/provenance/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
)

// Demo item ids: GS1 batches (GTIN-14 with valid check digits).
const (
	demoMilk   = "lgtin:05012345678900.DALE-MILK-001"
	demoCheese = "lgtin:05012345678917.VALE-CHEDDAR-001"
	demoRecall = "FSA-DEMO-001"
)

// provenanceDemo follows a farm's milk to a school kitchen and back again
// as a recall: the FSA accredits its inspector, who attests the milk;
// Dale Farm splits the batch and hands 600 l to Vale Creamery, which makes
// cheese and hands it to the school kitchen; the FSA then recalls the milk,
// the recall reaches the cheese, and the kitchen acknowledges it.
func provenanceDemo(ctx context.Context, d *Demo) error {
	pv := func(m proto.Message) *txv1.Msg {
		switch m := m.(type) {
		case *provenancev1.MsgAccreditInspector:
			return &txv1.Msg{Sum: &txv1.Msg_AccreditInspector{AccreditInspector: m}}
		case *provenancev1.MsgRegisterItem:
			return &txv1.Msg{Sum: &txv1.Msg_RegisterItem{RegisterItem: m}}
		case *provenancev1.MsgAttest:
			return &txv1.Msg{Sum: &txv1.Msg_Attest{Attest: m}}
		case *provenancev1.MsgSplit:
			return &txv1.Msg{Sum: &txv1.Msg_SplitItem{SplitItem: m}}
		case *provenancev1.MsgOfferCustody:
			return &txv1.Msg{Sum: &txv1.Msg_OfferCustody{OfferCustody: m}}
		case *provenancev1.MsgAcceptCustody:
			return &txv1.Msg{Sum: &txv1.Msg_AcceptCustody{AcceptCustody: m}}
		case *provenancev1.MsgTransform:
			return &txv1.Msg{Sum: &txv1.Msg_TransformItems{TransformItems: m}}
		case *provenancev1.MsgRecall:
			return &txv1.Msg{Sum: &txv1.Msg_Recall{Recall: m}}
		case *provenancev1.MsgAcknowledgeRecall:
			return &txv1.Msg{Sum: &txv1.Msg_AcknowledgeRecall{AcknowledgeRecall: m}}
		case *provenancev1.MsgNameLocation:
			return &txv1.Msg{Sum: &txv1.Msg_NameLocation{NameLocation: m}}
		}
		panic(fmt.Sprintf("provenance demo: unexpected message %T", m))
	}
	addr := func(name string) ([]byte, error) {
		pub, err := d.Key(name)
		if err != nil {
			return nil, err
		}
		return keys.AddressOf(pub), nil
	}
	inspector, err := addr("fsa-inspector")
	if err != nil {
		return err
	}
	dairy, err := addr("dairy-producer")
	if err != nil {
		return err
	}
	kitchen, err := addr("school-kitchen")
	if err != nil {
		return err
	}
	lab := sha256.Sum256([]byte("Dale Farm milk, lab report 2030-001"))
	const farm, creamery, school = "urn:gln:5012345000017", "urn:gln:5012345000024", "urn:gln:5012345000031"
	steps := []struct {
		node int
		key  string
		msg  proto.Message
		log  string
	}{
		{1, "dalefarm-admin", &provenancev1.MsgNameLocation{Location: farm, Name: "Dale Farm, milking parlour"}, "Dale Farm named its GLN " + farm},
		{2, "dairy-admin", &provenancev1.MsgNameLocation{Location: creamery, Name: "Vale Creamery, Valeford"}, "Vale Creamery named its GLN " + creamery},
		{3, "school-admin", &provenancev1.MsgNameLocation{Location: school, Name: "Northshire Primary School kitchen"}, "Northshire Primary named its GLN " + school},
		{0, "fsa-regulator", &provenancev1.MsgAccreditInspector{Inspector: inspector}, "FSA regulator accredited fsa-inspector"},
		{1, "dalefarm-producer", &provenancev1.MsgRegisterItem{Id: demoMilk, Product: "05012345678900", Quantity: 1000, Unit: "l", Origin: farm,
			Attributes: []*provenancev1.Attribute{{Key: "name", Value: "Whole milk"}, {Key: "herd", Value: "dale-jersey"}, {Key: "fat_percent", Value: "4.9"}}}, "Dale Farm registered 1000 l of milk " + demoMilk},
		{2, "fsa-inspector", &provenancev1.MsgAttest{ItemId: demoMilk, InspectionType: "microbiology", Result: "PASS", EvidenceSha256: lab[:], Location: farm}, "FSA inspector attested the milk: microbiology PASS"},
		{3, "dalefarm-producer", &provenancev1.MsgSplit{ItemId: demoMilk, Location: farm, Parts: []*provenancev1.SplitPart{
			{Id: demoMilk + "-A", Quantity: 600}, {Id: demoMilk + "-B", Quantity: 400}}}, "Dale Farm split the milk into 600 l and 400 l"},
		{0, "dalefarm-producer", &provenancev1.MsgOfferCustody{ItemId: demoMilk + "-A", To: dairy, Location: farm}, "Dale Farm offered 600 l to Vale Creamery"},
		{1, "dairy-producer", &provenancev1.MsgAcceptCustody{ItemId: demoMilk + "-A", Location: creamery}, "Vale Creamery accepted the milk"},
		{2, "dairy-producer", &provenancev1.MsgTransform{ItemIds: []string{demoMilk + "-A"}, Process: "cheesemaking", Location: creamery,
			Outputs: []*provenancev1.TransformOutput{{Id: demoCheese, Product: "05012345678917", Quantity: 60, Unit: "kg",
				Attributes: []*provenancev1.Attribute{{Key: "name", Value: "Mature cheddar cheese"}}}}}, "Vale Creamery made 60 kg of cheddar " + demoCheese},
		{3, "dairy-producer", &provenancev1.MsgOfferCustody{ItemId: demoCheese, To: kitchen, Location: creamery}, "Vale Creamery offered the cheese to the school kitchen"},
		{0, "school-kitchen", &provenancev1.MsgAcceptCustody{ItemId: demoCheese, Location: school}, "Northshire Primary's kitchen accepted the cheese"},
		{1, "fsa-regulator", &provenancev1.MsgRecall{OrderId: demoRecall, ItemId: demoMilk, Reason: "listeria monocytogenes found in retained sample"}, "FSA recalled the milk (order " + demoRecall + ")"},
	}
	for _, s := range steps {
		if err := d.Send(ctx, s.node, s.key, pv(s.msg)); err != nil {
			return fmt.Errorf("%s: %w", s.log, err)
		}
		d.Log("%s", s.log)
	}
	// The recall reaches the cheese at the end of a following block. Ask
	// the node that committed the recall: another may not have applied
	// that block yet.
	for {
		res, _, err := d.Clients[1%len(d.Clients)].Query(ctx, api.PathProvenanceRecall, []byte(demoRecall), 0, false)
		if err != nil {
			return err
		}
		order := &provenancev1.RecallOrder{}
		if err := proto.Unmarshal(res.Value, order); err != nil {
			return err
		}
		if order.Complete {
			d.Log("recall %s reached %d items; %d custodians must acknowledge", demoRecall, order.Reached, order.AwaitingAck)
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
	if err := d.Send(ctx, 2, "school-kitchen", pv(&provenancev1.MsgAcknowledgeRecall{ItemId: demoCheese, Note: "withdrawn from menus, quarantined"})); err != nil {
		return err
	}
	d.Log("the school kitchen acknowledged the recall; see `%s query provenance unacknowledged %s` and `%s query provenance history %s`", d.CLI, demoRecall, d.CLI, demoCheese)
	return nil
}
