// The break-glass runbook: the one-page procedure, written once. docs/break-glass.md carries it
// as Markdown (a test checks the doc's "Runbook" section is exactly `runbookMarkdown()`), and the
// per-account PDF (`break-glass:runbook`, `halfkey break-glass runbook`) prints it with the
// account's id in every command. Inline markup is a small Markdown subset: **bold**, _italic_,
// `code` and <https://…>; `{account}` stands for the account id.

/** One step of the procedure: a bold lead, who does it, and its points (a numbered list when `ordered`). */
export interface RunbookStep {
  readonly title: string;
  /** Who takes the step, shown after the title (already in its brackets or dash). */
  readonly who: string;
  readonly points: readonly string[];
  readonly ordered?: boolean;
}

/** A paragraph after the steps: a bold lead (a heading on paper) and the text that follows it. */
export interface RunbookNote {
  readonly lead: string;
  readonly text: string;
}

export interface Runbook {
  readonly needs: string;
  readonly steps: readonly RunbookStep[];
  readonly notes: readonly RunbookNote[];
}

/** What `{account}` becomes in the doc, where no account is chosen. */
export const EXAMPLE_ACCOUNT = '123456789012';

export const RUNBOOK: Runbook = {
  needs:
    'You need: this workstation with the vault, **two people** — a custodian of the password half and a different custodian of the MFA half of the account — and the AWS root e-mail of the account (Accounts shows it). Each of you types only your own passphrase.',
  steps: [
    {
      title: 'Open the session',
      who: '(either custodian, or an admin).',
      points: [
        'App: _Break-glass_ → account, incident reference (e.g. INC-1234), why the root user is needed, severity, how long each half stays out (default 60 min) → _Open break-glass session_.',
        'CLI: `halfkey break-glass open --vault DIR --as YOUR_ID --account {account} --reference INC-1234 --reason "SCP locks out every admin" --severity critical`',
      ],
    },
    {
      title: 'Password custodian: use the password half.',
      who: '',
      points: [
        'App: if someone else is acting, _Take over_ with your passphrase; then _Use the password half_. The password shows for 60 s (_Show the password again_ while your checkout is open).',
        'CLI: `halfkey break-glass use-password --vault DIR --as YOUR_ID --account {account}` (prints the password once; `halfkey break-glass reveal …` prints it again).',
        'At <https://console.aws.amazon.com/>: _Root user_, the root e-mail, the password.',
      ],
    },
    {
      title: 'MFA custodian (another person): use the MFA half.',
      who: '',
      points: [
        'App: _Take over_ with **your** passphrase, then _Use the MFA half_. The current code shows with its countdown and renews itself; after 60 s the app asks for your passphrase again.',
        'CLI: `halfkey break-glass use-mfa --vault DIR --as YOUR_ID --account {account} [--codes 3]` (`halfkey break-glass code …` for a fresh code).',
        'Read the code out for the AWS MFA prompt. The person who used the password is refused here (exit 3 in the CLI), by design.',
      ],
    },
    {
      title: 'At AWS, signed in as root',
      who: '— only what the incident needs:',
      ordered: true,
      points: [
        'restore administrator access: create a break-glass IAM role (or IAM user) with administrator access, or repair the locked-out one;',
        'fix the cause: correct or detach the SCP in AWS Organizations;',
        'check an administrator can sign in the normal way; **sign out of root**.',
      ],
    },
    {
      title: 'Close the session',
      who: '(either custodian).',
      points: [
        'App: outcome _resolved_ (or _aborted_) and what was done → _Close with this outcome_.',
        'CLI: `halfkey break-glass close --vault DIR --as YOUR_ID --account {account} --outcome resolved --note "role created, SCP fixed, signed out"`',
        'Your own break-glass checkout is checked in with it; the other custodian’s stays open until they check it in (`halfkey checkin --vault DIR --as THEIR_ID --checkout ID`) or its lease runs out.',
      ],
    },
    {
      title: 'Rotate both halves.',
      who: 'The session stays listed as _rotation due_ until both are confirmed:',
      points: [
        'Password custodian: `halfkey rotate --vault DIR --as YOUR_ID --account {account} --item password` (set the new password at AWS), then the same with `--confirm`, approved by a second custodian (`halfkey proposal approve …`).',
        'MFA custodian: likewise with `--item mfa --seed-file FILE` after re-registering the virtual MFA device at AWS.',
        'App: Accounts → the account → Rotate. `halfkey break-glass status --vault DIR --account {account}` shows each half as _due_, _pending_ or _done_.',
      ],
    },
  ],
  notes: [
    {
      lead: 'If the app or the machine stopped mid-ceremony (killed, power lost):',
      text: 'start it again. The session is still there, marked interrupted (and journaled); the steps already taken stand and the open checkouts keep their leases. A custodian of the account resumes it (_Resume as …_, or `halfkey break-glass resume --vault DIR --as YOUR_ID --account {account}`) and you continue at the next step — or close it as _aborted_.',
    },
    {
      lead: 'Sync afterwards:',
      text: '`halfkey sync --vault DIR` (or _Sync now_) once the network is back, so the server’s review queue gets the session.',
    },
  ],
};

const fill = (text: string, accountId: string): string => text.replaceAll('{account}', accountId);

/** The runbook as the Markdown of docs/break-glass.md's "Runbook (one page)" section (without its heading). */
export function runbookMarkdown(runbook: Runbook = RUNBOOK, accountId = EXAMPLE_ACCOUNT): string {
  const blocks = [runbook.needs];
  runbook.steps.forEach((step, i) => {
    blocks.push(`**${i + 1}. ${step.title}**${step.who === '' ? '' : ` ${step.who}`}`);
    blocks.push(step.points.map((point, n) => `${step.ordered === true ? `${n + 1}.` : '-'} ${point}`).join('\n'));
  });
  for (const note of runbook.notes) blocks.push(`**${note.lead}** ${note.text}`);
  return `${fill(blocks.join('\n\n'), accountId)}\n`;
}

/** Text without its inline markup (**bold**, _italic_ between word boundaries, `code` as is, <url>): what a person reads on paper. */
export const plain = (text: string): string =>
  text.replace(
    /`([^`]+)`|\*\*([^*]+)\*\*|(?<![\w])_([^_]+)_(?![\w])|<(https?:[^>\s]+)>/g,
    (_all, code?: string, bold?: string, italic?: string, url?: string) => code ?? bold ?? italic ?? url ?? '',
  );

/** A line of the printed runbook: a heading, a paragraph, or a list item with its marker. */
export type RunbookBlock =
  | { readonly kind: 'heading'; readonly text: string }
  | { readonly kind: 'paragraph'; readonly text: string }
  | { readonly kind: 'item'; readonly marker: string; readonly text: string };

/** The procedure for one account, as blocks of plain text, every command naming the account. */
export function runbookBlocks(accountId: string, runbook: Runbook = RUNBOOK): RunbookBlock[] {
  const blocks: RunbookBlock[] = [{ kind: 'paragraph', text: plain(fill(runbook.needs, accountId)) }];
  runbook.steps.forEach((step, i) => {
    blocks.push({ kind: 'heading', text: `${i + 1}. ${plain(step.title)}${step.who === '' ? '' : ` ${plain(step.who)}`}` });
    step.points.forEach((point, n) =>
      blocks.push({ kind: 'item', marker: step.ordered === true ? `${n + 1}.` : '-', text: plain(fill(point, accountId)) }),
    );
  });
  for (const note of runbook.notes) {
    blocks.push({ kind: 'heading', text: plain(note.lead) });
    // On paper the lead stands as a heading, so the paragraph starts a sentence of its own.
    const text = /^[a-z]/.test(note.text) ? `${note.text.charAt(0).toUpperCase()}${note.text.slice(1)}` : note.text;
    blocks.push({ kind: 'paragraph', text: plain(fill(text, accountId)) });
  }
  return blocks;
}
