// The SQL editor: CodeMirror 6 with PostgreSQL highlighting, history, bracket matching and
// table-name completion on Ctrl-Space. Its content is a textbox named "SQL"; Ctrl/Cmd-Enter runs.
import { EditorState, Compartment, Prec } from '@codemirror/state';
import { EditorView, keymap, lineNumbers, highlightActiveLine, drawSelection, placeholder } from '@codemirror/view';
import { defaultKeymap, history, historyKeymap } from '@codemirror/commands';
import { bracketMatching, defaultHighlightStyle, syntaxHighlighting } from '@codemirror/language';
import { autocompletion, completionKeymap } from '@codemirror/autocomplete';
import { PostgreSQL, sql } from '@codemirror/lang-sql';

const language = new Compartment();

const theme = EditorView.theme({
  '&': { fontSize: '14px', border: '1px solid var(--border)', borderRadius: '6px', background: 'var(--surface)' },
  '&.cm-focused': { outline: '2px solid var(--focus)', outlineOffset: '1px' },
  '.cm-content': { fontFamily: 'var(--mono)', minHeight: '10em' },
  '.cm-gutters': { background: 'var(--subtle)', borderRight: '1px solid var(--border)', color: 'var(--muted)' },
  '.cm-scroller': { maxHeight: '50vh', overflow: 'auto' },
});

function languageFor(tables) {
  return sql({ dialect: PostgreSQL, schema: Object.fromEntries(tables.map((t) => [t, []])), upperCaseKeywords: true });
}

export function createEditor(parent, { doc = '', onRun }) {
  return new EditorView({
    parent,
    state: EditorState.create({
      doc,
      extensions: [
        Prec.highest(keymap.of([{ key: 'Mod-Enter', run: () => (onRun(), true) }])),
        lineNumbers(),
        history(),
        drawSelection(),
        highlightActiveLine(),
        bracketMatching(),
        syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
        language.of(languageFor([])),
        autocompletion({ activateOnTyping: false }),
        keymap.of([...completionKeymap, ...defaultKeymap, ...historyKeymap]),
        placeholder('SELECT * FROM …   (Ctrl-Enter or ⌘-Enter runs it)'),
        EditorView.lineWrapping,
        EditorView.contentAttributes.of({ 'aria-label': 'SQL' }),
        theme,
      ],
    }),
  });
}

/** Table names for completion. */
export function setTables(view, tables) {
  view.dispatch({ effects: language.reconfigure(languageFor(tables)) });
}

export function setText(view, text) {
  view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
}

/** Put the cursor at a 1-based character position (PostgreSQL's error position) and focus. */
export function goTo(view, position) {
  const at = Math.max(0, Math.min(view.state.doc.length, position - 1));
  view.dispatch({ selection: { anchor: at }, scrollIntoView: true });
  view.focus();
}
