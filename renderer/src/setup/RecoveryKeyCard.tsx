import { useEffect, useRef, useState, type ReactElement } from 'react';

/** The recovery key as vault:create returned it: checksummed text and a QR image of it. */
export interface RecoveryKey {
  readonly text: string;
  readonly qr: string;
}

/**
 * Shows the recovery key this once, as text and QR, and will not continue until the person says
 * it is stored offline. The parent drops the key from its state when `onStored` runs.
 */
export function RecoveryKeyCard({ recovery, onStored }: { readonly recovery: RecoveryKey; readonly onStored: () => void }): ReactElement {
  const [stored, setStored] = useState(false);
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), []);
  return (
    <section className="panel recovery" aria-labelledby="recovery-heading">
      <h2 id="recovery-heading" ref={heading} tabIndex={-1}>
        Recovery key — shown once
      </h2>
      <p>
        This key restores the vault on a machine whose keychain lost the device key. Halfkey does not keep a copy you can display again.
        Write it down or print the QR code, and lock it away offline.
      </p>
      <div className="recovery-body">
        <p className="recovery-key" aria-label="Recovery key">
          <code>{recovery.text}</code>
        </p>
        <img className="recovery-qr" src={recovery.qr} alt="QR code of the recovery key" width={180} height={180} />
      </div>
      <div className="check">
        <input id="recovery-stored" type="checkbox" checked={stored} onChange={(event) => setStored(event.target.checked)} />
        <label htmlFor="recovery-stored">I have stored the recovery key offline</label>
      </div>
      <button type="button" className="primary" disabled={!stored} onClick={onStored}>
        Continue
      </button>
    </section>
  );
}
