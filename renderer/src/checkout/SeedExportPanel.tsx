import { useCallback, useEffect, useState, type FormEvent, type ReactElement } from 'react';
import type { ResponseOf } from '../../../shared/api/contract';
import { attempt } from '../api/call';
import { halfkey } from '../api/halfkey';
import type { Account, ApiError, Custodian } from '../api/types';
import { ErrorNotice } from '../components/ErrorNotice';
import { Field } from '../components/Field';
import { RevealedSecret } from '../components/RevealedSecret';
import { custodianLabel } from '../session/session';

type ExportRequest = ResponseOf<'custody:seed-export-list'>['requests'][number];

/** How long a collected seed stays on screen. */
const SHOW_SEED_MS = 60_000;

/**
 * Two-person seed export: an MFA custodian asks with a reason, a different custodian (admin or
 * another MFA holder) approves, and the requester collects the seed once, shown for a minute.
 */
export function SeedExportPanel(props: {
  readonly actor: Custodian;
  readonly account: Account;
  readonly custodians: readonly Custodian[];
}): ReactElement {
  const { actor, account } = props;
  const [requests, setRequests] = useState<readonly ExportRequest[]>([]);
  const [reason, setReason] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  // The collected seed lives only here, until its timer ends or "Hide now".
  const [seed, setSeed] = useState<{ readonly base32: string; readonly uri: string; readonly until: number } | null>(null);
  const accountId = account.accountId;
  const load = useCallback(async () => {
    const result = await attempt(() => halfkey().custodySeedExportList({ accountId }));
    if (result.ok) setRequests(result.value.requests);
    else setError(result.error);
  }, [accountId]);
  useEffect(() => {
    void load();
  }, [load]);

  const settle = async (result: { readonly ok: boolean; readonly error?: ApiError }): Promise<void> => {
    setError(result.ok ? null : (result.error ?? null));
    await load();
  };
  const request = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    const result = await attempt(() => halfkey().custodySeedExportRequest({ by: actor.id, accountId, reason }));
    if (result.ok) setReason('');
    await settle(result);
  };
  const approve = async (requestId: string): Promise<void> =>
    settle(await attempt(() => halfkey().custodySeedExportApprove({ by: actor.id, requestId })));
  const collect = async (requestId: string): Promise<void> => {
    const result = await attempt(() => halfkey().custodySeedExportCollect({ by: actor.id, requestId }));
    if (result.ok) setSeed({ base32: result.value.base32, uri: result.value.otpauthUri, until: Date.now() + SHOW_SEED_MS });
    await settle(result);
  };

  return (
    <section className="panel" aria-labelledby="seed-export-heading">
      <h2 id="seed-export-heading">Export the MFA seed (two people)</h2>
      <p className="muted">
        For moving the virtual MFA to a new device. A second custodian must approve; the requester sees the seed once.
      </p>
      {actor.role === 'mfa-custodian' && (
        <form noValidate className="form" onSubmit={(event) => void request(event)}>
          <Field label="Reason for the export" value={reason} onChange={setReason} required />
          <button type="submit">Request export</button>
        </form>
      )}
      <ErrorNotice error={error} />
      {requests.length > 0 && (
        <table className="table">
          <caption>Open export requests</caption>
          <thead>
            <tr>
              <th scope="col">Requested by</th>
              <th scope="col">Reason</th>
              <th scope="col">State</th>
              <th scope="col">
                <span className="visually-hidden">Action</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {requests.map((r) => (
              <tr key={r.requestId}>
                <td>{custodianLabel(props.custodians, r.requestedBy)}</td>
                <td>{r.reason}</td>
                <td>
                  {r.approvedBy === null ? 'waiting for approval' : `approved by ${custodianLabel(props.custodians, r.approvedBy)}`} ·
                  expires {new Date(r.expiresAt).toLocaleTimeString()}
                </td>
                <td>
                  {r.requestedBy !== actor.id && r.approvedBy === null && (
                    <button type="button" onClick={() => void approve(r.requestId)}>
                      Approve
                    </button>
                  )}
                  {r.requestedBy === actor.id && r.approvedBy !== null && (
                    <button type="button" className="primary" onClick={() => void collect(r.requestId)}>
                      Collect seed
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {seed !== null && (
        <>
          <RevealedSecret label="Exported seed (base32)" secret={seed.base32} expiresAt={seed.until} onHide={() => setSeed(null)} />
          <RevealedSecret label="Exported seed (otpauth URI)" secret={seed.uri} expiresAt={seed.until} onHide={() => setSeed(null)} />
        </>
      )}
    </section>
  );
}
