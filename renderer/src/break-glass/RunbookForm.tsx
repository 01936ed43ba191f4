import { useState, type FormEvent, type ReactElement } from 'react';
import { halfkey } from '../api/halfkey';
import type { ApiError } from '../api/types';
import { ErrorNotice } from '../components/ErrorNotice';
import { AccountSelect, useAccountChoice } from './AccountChoice';
import { Field } from '../components/Field';

/**
 * Prints the runbook of one account as a PDF: the one-page procedure with the account in every
 * command and who holds which half (names and organisations, no secret), written where the person
 * says on the machine running Halfkey. Nobody needs to be unlocked; the main process checks the
 * path (absolute, .pdf) and writes nothing when it refuses.
 */
export function RunbookForm(): ReactElement {
  const account = useAccountChoice('break-glass-runbook-accounts');
  const [out, setOut] = useState('');
  const [working, setWorking] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [written, setWritten] = useState<{ readonly out: string; readonly accountId: string; readonly holders: string } | null>(null);
  const chosen = account.chosen;
  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    setWritten(null);
    if (chosen === '') {
      setError({ code: 'INVALID_PAYLOAD', message: 'Add an account first: the runbook is printed for one account.' });
      return;
    }
    setWorking(true);
    const result = await halfkey().breakGlassRunbook({ accountId: chosen, out: out.trim() });
    setWorking(false);
    setError(result.ok ? null : result.error);
    if (result.ok) {
      const names = (holders: readonly { name: string; organisation: string }[]): string =>
        holders.length === 0 ? 'nobody' : holders.map((h) => `${h.name} (${h.organisation})`).join(', ');
      const { holders } = result.value;
      setWritten({
        out: result.value.out,
        accountId: result.value.accountId,
        holders: `Password half: ${names(holders.password)}. MFA half: ${names(holders.mfa)}.`,
      });
    }
  };
  return (
    <section className="panel" aria-labelledby="break-glass-runbook-heading">
      <h3 id="break-glass-runbook-heading">Print the runbook</h3>
      <p className="muted">
        The one-page procedure for an account, with its id in every command and who holds which half (no secret). Print it for each account
        and keep it at this workstation. The file is written on the machine running Halfkey.
      </p>
      <form noValidate className="form" aria-label="Print the runbook" onSubmit={(event) => void submit(event)}>
        <AccountSelect id="break-glass-runbook-account" choice={account} />
        <Field
          label="Save the PDF as (absolute path, .pdf)"
          value={out}
          onChange={setOut}
          required
          placeholder={`/home/me/runbook-${chosen === '' ? '123456789012' : chosen}.pdf`}
          problem={error?.detail?.field === 'out' ? error.message : null}
        />
        <ErrorNotice error={error} />
        <button type="submit" disabled={working}>
          {working ? 'Printing…' : 'Print runbook (PDF)'}
        </button>
        {written !== null && (
          <p role="status">
            Runbook of account {written.accountId} written to <span className="mono">{written.out}</span>. {written.holders}
          </p>
        )}
      </form>
      <ErrorNotice error={account.error} />
    </section>
  );
}
