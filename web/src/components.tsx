import type { ComponentChildren } from 'preact';
import { useId, useState } from 'preact/hooks';
import {
  allowRuleSnippet,
  isCatalogSelection,
  ruleFor,
  suggestionSnippet,
  type PolicyFacts,
  type PolicyRule,
} from './config-snippet.js';
import { ago, stamp } from './format.js';
import type { Explanation, Policy } from './types.js';

/** "12s ago", with the exact time on hover; "never" for none. */
export function Ago({ at, now }: { readonly at: number | null | undefined; readonly now: number }) {
  if (at === null || at === undefined || at <= 0) return <span class="muted">never</span>;
  return (
    <time dateTime={new Date(at).toISOString()} title={stamp(at)}>
      {ago(at, now)} ago
    </time>
  );
}

export function Badge({ kind, children }: { readonly kind: string; readonly children: ComponentChildren }) {
  return <span class={`badge badge-${kind}`}>{children}</span>;
}

export function Empty({ children }: { readonly children: ComponentChildren }) {
  return <p class="empty">{children}</p>;
}

export function Section({
  title,
  id,
  children,
  actions,
}: {
  readonly title: string;
  readonly id: string;
  readonly children: ComponentChildren;
  readonly actions?: ComponentChildren;
}) {
  return (
    <section class="panel" aria-labelledby={id}>
      <div class="panel-head">
        <h3 id={id}>{title}</h3>
        {actions}
      </div>
      {children}
    </section>
  );
}

/** What the configuration snippets need from `/api/policy`. */
export function policyFacts(policy: Policy | null): PolicyFacts {
  return {
    selection: policy?.selection ?? null,
    defaultServices: policy?.defaultServices ?? null,
    sources: policy?.sources ?? [],
    ports: policy?.ports ?? { connect: [443], http: [80] },
    catalogInForce: policy?.catalogInForce ?? false,
    configDestinations: policy?.rules.some((r) => r.source === 'config') ?? false,
  };
}

/** Writes to the clipboard where the browser allows it (a secure context), else through a selection. */
async function copyText(text: string): Promise<boolean> {
  try {
    if (window.isSecureContext && navigator.clipboard !== undefined) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    // Fall through to the selection.
  }
  const area = document.createElement('textarea');
  area.value = text;
  area.readOnly = true;
  area.className = 'offscreen';
  const focused = document.activeElement as HTMLElement | null;
  document.body.append(area);
  area.select();
  let ok: boolean;
  try {
    ok = document.execCommand('copy');
  } catch {
    ok = false;
  }
  area.remove();
  focused?.focus();
  return ok;
}

const ALLOW_RULE_REASONS = new Set(['DENY_HOST_NOT_ALLOWED', 'DENY_PORT', 'DENY_IP_LITERAL']);
/** Explanations whose next step advises against opening the destination. */
const CAUTION_CODES = new Set([
  'SHARED_NAMESPACE',
  'NOT_DEFENDER',
  'LOOKS_LIKE_DEFENDER',
  'PORT_NOT_ALLOWED',
]);

interface CopyProps {
  readonly method: string;
  readonly host: string;
  readonly port: number;
  readonly reason: string;
  /** The rule the gateway matched (a refusal for the port), when it said. */
  readonly rule: string | null;
  readonly explanation: Explanation | null;
  readonly facts: PolicyFacts;
  readonly rules: readonly PolicyRule[];
}

/**
 * "Copy as allow rule" and "Copy catalog selection" (or "Copy configuration change") for a
 * refusal: the text goes to the clipboard and is shown, so it can be read and selected by hand too.
 */
export function CopyActions({ method, host, port, reason, rule, explanation, facts, rules }: CopyProps) {
  const [open, setOpen] = useState<'rule' | 'change' | null>(null);
  const [result, setResult] = useState<string>('');
  const panel = useId();
  const suggestions = explanation?.suggestions ?? [];
  const canRule = ALLOW_RULE_REASONS.has(reason);
  if (!canRule && suggestions.length === 0) return null;
  const snippet = (kind: 'rule' | 'change'): string =>
    kind === 'rule'
      ? allowRuleSnippet(
          { method, host, port },
          facts,
          reason === 'DENY_PORT' ? ruleFor(host, rules, rule) : null,
        )
      : suggestionSnippet(suggestions, facts);
  const text = open === null ? '' : snippet(open);

  const choose = (kind: 'rule' | 'change'): void => {
    if (open === kind) {
      setOpen(null);
      return;
    }
    setOpen(kind);
    setResult('');
    void copyText(snippet(kind)).then((ok) =>
      setResult(
        ok ? 'Copied to the clipboard.' : 'The browser did not allow copying: select the text and copy it.',
      ),
    );
  };
  const caution =
    open === 'rule' && explanation !== null && CAUTION_CODES.has(explanation.code)
      ? (explanation.next ?? explanation.summary)
      : null;
  const changeLabel = isCatalogSelection(suggestions)
    ? 'Copy catalog selection'
    : 'Copy configuration change';

  return (
    <div class="copy">
      <div class="copy-buttons">
        {canRule && (
          <button
            type="button"
            class="small"
            aria-expanded={open === 'rule'}
            aria-controls={panel}
            onClick={() => choose('rule')}
          >
            Copy allow rule
          </button>
        )}
        {suggestions.length > 0 && (
          <button
            type="button"
            class="small"
            aria-expanded={open === 'change'}
            aria-controls={panel}
            onClick={() => choose('change')}
          >
            {changeLabel}
          </button>
        )}
      </div>
      <div id={panel} hidden={open === null} class="copy-panel">
        {caution !== null && <p class="caution">Think twice: {caution}</p>}
        <pre tabIndex={0} aria-label="configuration to paste">
          {text}
        </pre>
        <p class="copy-result" role="status">
          {result}
        </p>
      </div>
    </div>
  );
}
