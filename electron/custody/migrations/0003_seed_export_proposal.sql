-- A seed export is a two-person change: the request is a proposal (seed-export.approved) that a
-- second custodian approves through proposal:approve. The request row names its proposal so the
-- approver can find it from the request list.
ALTER TABLE custody_seed_exports ADD COLUMN proposal_id TEXT;
