package api

// Gov query paths. Proposals, votes, mandates and validators are records of
// state answered with proofs; a tally is the proposal record, whose counts
// are refreshed at each vote and each end-of-block tally.
const (
	PathGovProposal      = "/gov/proposal"       // data: decimal proposal id → Proposal
	PathGovProposals     = "/gov/proposals"      // data: [0x00 next_key] → every Proposal, open and past, a page at a time
	PathGovOpenProposals = "/gov/proposals/open" // data: [0x00 next_key] → open Proposals
	PathGovVotes         = "/gov/votes"          // data: decimal proposal id [0x00 next_key] → its Votes
	PathGovMandates      = "/gov/mandates"       // data: [0x00 next_key] → MandateGrants in force
	PathGovMandate       = "/gov/mandate"        // data: decimal grant id → MandateGrant, in force or not
	PathGovValidators    = "/gov/validators"     // data: [0x00 next_key] → Validators with operating agency
	PathGovParams        = "/gov/params"         // data: none → gov Params
	PathGovParam         = "/gov/param"          // data: parameter name → the owning module's params record
	PathGovRegistry      = "/gov/registry"       // data: none → ParamList (derived, no proof)
	PathGovUpgrade       = "/gov/upgrade"        // data: none → UpgradePlan scheduled
	// Misbehaviour records, kept forever. The listings are paged: the
	// argument, then optionally 0x00 and the next_key of the previous page.
	PathGovMisbehaviour           = "/gov/misbehaviour"            // data: decimal sequence → Misbehaviour
	PathGovMisbehaviours          = "/gov/misbehaviours"           // data: [0x00 next_key] → Misbehaviours in sequence order
	PathGovValidatorMisbehaviours = "/gov/misbehaviours/validator" // data: hex consensus address [0x00 next_key] → its Misbehaviours
)
