import { useEffect, useId, useState, type FormEvent, type ReactElement } from 'react';
import { attempt } from '../api/call';
import { halfkey } from '../api/halfkey';
import type { ResponseOf } from '../../../shared/api/contract';
import type { ApiError } from '../api/types';
import { ErrorNotice } from '../components/ErrorNotice';
import { Field } from '../components/Field';

type Candidate = ResponseOf<'vault:recovery-roster'>['custodians'][number];

/** One of the two custodians present for a recovery: who they are, and the passphrase they type themselves. */
function PresentCustodian(props: {
  readonly ordinal: 'First' | 'Second';
  readonly candidates: readonly Candidate[];
  readonly chosen: string;
  readonly other: string;
  readonly onChoose: (id: string) => void;
  readonly passphrase: string;
  readonly onPassphrase: (value: string) => void;
}): ReactElement {
  const id = useId();
  const chosen = props.candidates.find((c) => c.id === props.chosen);
  return (
    <fieldset className="recovery-custodian">
      <legend>{props.ordinal} custodian present</legend>
      <div className="field">
        <p className="field-label">
          <label htmlFor={id}>{props.ordinal} custodian</label>
        </p>
        <select id={id} value={props.chosen} onChange={(event) => props.onChoose(event.target.value)}>
          <option value="">Choose…</option>
          {props.candidates.map((c) => (
            <option key={c.id} value={c.id} disabled={c.id === props.other}>
              {c.name} ({c.role}, {c.organisation})
            </option>
          ))}
        </select>
      </div>
      <Field
        label={`${props.ordinal} custodian's passphrase`}
        type="password"
        value={props.passphrase}
        onChange={props.onPassphrase}
        required
        hint={chosen === undefined ? 'Typed by that custodian.' : `Typed by ${chosen.name}.`}
      />
    </fieldset>
  );
}

/**
 * For a vault that exists but is not open: open it with the device key from the OS keychain, or,
 * where this machine's keychain lost that key, restore access with the recovery key and two
 * custodians present, each typing their own passphrase (vault:recover). The custodians who may
 * take part come from vault:recovery-roster, which works while the vault is closed.
 */
export function VaultAccess({ onOpened }: { readonly onOpened: () => void }): ReactElement {
  const [recoveryKey, setRecoveryKey] = useState('');
  const [candidates, setCandidates] = useState<readonly Candidate[]>([]);
  const [first, setFirst] = useState('');
  const [second, setSecond] = useState('');
  const [firstPassphrase, setFirstPassphrase] = useState('');
  const [secondPassphrase, setSecondPassphrase] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const [working, setWorking] = useState(false);
  useEffect(() => {
    let live = true;
    void attempt(() => halfkey().vaultRecoveryRoster({})).then((result) => {
      if (live && result.ok) setCandidates(result.value.custodians);
    });
    return () => {
      live = false;
    };
  }, []);
  const open = async (): Promise<void> => {
    setWorking(true);
    const result = await attempt(() => halfkey().vaultOpen({}));
    setWorking(false);
    setError(result.ok ? null : result.error);
    if (result.ok) onOpened();
  };
  const recover = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    const custodians = [
      { custodianId: first, passphrase: firstPassphrase },
      { custodianId: second, passphrase: secondPassphrase },
    ].filter((c) => c.custodianId !== '');
    const key = recoveryKey.trim();
    // The recovery key and the passphrases leave their fields as soon as they are sent.
    setRecoveryKey('');
    setFirstPassphrase('');
    setSecondPassphrase('');
    setWorking(true);
    const result = await attempt(() => halfkey().vaultRecover({ recoveryKey: key, custodians }));
    setWorking(false);
    setError(result.ok ? null : result.error);
    if (result.ok) onOpened();
  };
  const slots = [
    { ordinal: 'First', chosen: first, onChoose: setFirst, passphrase: firstPassphrase, onPassphrase: setFirstPassphrase },
    { ordinal: 'Second', chosen: second, onChoose: setSecond, passphrase: secondPassphrase, onPassphrase: setSecondPassphrase },
  ] as const;
  return (
    <section className="panel" aria-labelledby="access-heading">
      <h2 id="access-heading">Open the vault</h2>
      <p>The vault file is here but not open. Open it with the device key in this machine&apos;s keychain.</p>
      <div className="actions">
        <button type="button" className="primary" disabled={working} onClick={() => void open()}>
          Open vault
        </button>
      </div>
      <ErrorNotice error={error} />
      <h3>Restore access with the recovery key</h3>
      <p className="muted">
        If this machine&apos;s keychain no longer has the device key (new machine, reset keyring), type the recovery key from the recovery
        kit. Using it takes two custodians at this workstation, each typing their own passphrase; the journal records both.
      </p>
      <form noValidate className="form" onSubmit={(event) => void recover(event)}>
        <Field label="Recovery key" type="password" value={recoveryKey} onChange={setRecoveryKey} required placeholder="HK1-…" />
        {slots.map((slot, i) => (
          <PresentCustodian key={slot.ordinal} candidates={candidates} other={slots[1 - i]!.chosen} {...slot} />
        ))}
        <button type="submit" disabled={working}>
          {working ? 'Recovering…' : 'Recover'}
        </button>
      </form>
    </section>
  );
}
