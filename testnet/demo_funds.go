package testnet

import (
	"context"
	"crypto/sha256"
	"fmt"
	"time"

	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	benefitsv1 "github.com/tallyledger/tally/proto/tally/benefits/v1"
	fundsv1 "github.com/tallyledger/tally/proto/tally/funds/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
)

// Demo programme: a student bursary paying £250 every minute of block
// time, so a person watching sees scheduled payments run.
const (
	demoProgramme  = "student-bursary"
	demoRecipients = 5
)

// fundsDemo follows public money from the Treasury to students' bank
// accounts: an appropriation, an allocation to the benefits agency, a
// programme funded from it, and recipients enrolled on it. Scheduled
// payments then run by themselves each minute.
func fundsDemo(ctx context.Context, d *Demo) error {
	add, err := d.AddMember("benefits-finance", "benefits", agencyv1.Role_ROLE_FINANCE, agencyv1.Role_ROLE_PROGRAMME_MANAGER)
	if err != nil {
		return err
	}
	named, err := d.NameAccount("benefits-finance", "benefits", "finance")
	if err != nil {
		return err
	}
	if err := d.Send(ctx, 2, "benefits-admin", add, named); err != nil {
		return err
	}
	d.Log("benefits took on a finance officer and programme manager (benefits-finance)")

	if err := d.Send(ctx, 0, "treasury-officer",
		&txv1.Msg{Sum: &txv1.Msg_Appropriate{Appropriate: &fundsv1.MsgAppropriate{Reference: "SupplyAct2030/ClassII/Line4", Amount: 500_000_000, Currency: "GBP"}}},
		&txv1.Msg{Sum: &txv1.Msg_Allocate{Allocate: &fundsv1.MsgAllocate{ToAgency: "benefits", Amount: 100_000_000, Currency: "GBP", Reference: "Estimates 2030-31"}}},
	); err != nil {
		return err
	}
	d.Log("treasury appropriated £5,000,000 (SupplyAct2030/ClassII/Line4) and allocated £1,000,000 to benefits")

	start := time.Now().Add(30 * time.Second).Unix()
	if err := d.Send(ctx, 1, "benefits-finance",
		&txv1.Msg{Sum: &txv1.Msg_CreateProgramme{CreateProgramme: &benefitsv1.MsgCreateProgramme{
			Id: demoProgramme, Name: "Student bursary", Amount: 25_000, Currency: "GBP",
			PeriodSeconds: 60, StartUnix: start, EndUnix: start + 24*3600, RecipientCap: 1_000_000}}},
		&txv1.Msg{Sum: &txv1.Msg_Fund{Fund: &fundsv1.MsgFund{Programme: demoProgramme, Amount: 10_000_000, Currency: "GBP", Reference: "bursary 2030"}}},
	); err != nil {
		return err
	}
	d.Log("benefits created programme %s (£250 a minute of block time) and funded it with £100,000", demoProgramme)

	var msgs []*txv1.Msg
	for i := range demoRecipients {
		r := fmt.Sprintf("student-%02d", i+1)
		evidence := sha256.Sum256([]byte("demo evidence for " + r))
		msgs = append(msgs, &txv1.Msg{Sum: &txv1.Msg_Enrol{Enrol: &benefitsv1.MsgEnrol{
			Programme: demoProgramme, Recipient: DemoPseudonym(r), ReceivingAccount: DemoPseudonym("bank-" + r), EvidenceHash: evidence[:], StartUnix: start}}})
	}
	if err := d.Send(ctx, 2, "benefits-caseworker", msgs...); err != nil {
		return err
	}
	d.Log("benefits enrolled %d students; payments run every minute from %s — try `%s query benefits programme %s` and `%s query funds invariants --prove`",
		demoRecipients, time.Unix(start, 0).UTC().Format(time.RFC3339), d.CLI, demoProgramme, d.CLI)
	return nil
}
