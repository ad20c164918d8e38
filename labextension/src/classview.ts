// The "Class" section of the panel, for a teacher: one table of every learner's workloads
// with a learner column, and per learner a cleanup that asks first (naming what and how
// many, Cancel the default), as `%vw class cleanup LEARNER` does in a notebook.
import { Clipboard, Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { ApiError, IClassRow, ILearner, classCleanup } from './api';
import { ClassModel } from './classroom';
import { badge, button, note, text } from './dom';

const COLUMNS = ['learner', 'kind', 'name', 'state'];

/** The section, or null when the server has no class for these credentials. */
export function renderClass(
  model: ClassModel,
  readOnly: boolean | null,
  words: string[]
): HTMLElement | null {
  const view = model.view;
  if (!view) {
    return null;
  }
  const section = document.createElement('section');
  section.className = 'jp-VirtworkPanel-group jp-VirtworkPanel-class';
  section.dataset.section = 'class';
  section.dataset.open = `${model.open}`;

  const title = document.createElement('div');
  title.className = 'jp-VirtworkPanel-groupTitle';
  title.title = `The teacher's view: ${view.command}`;
  const fold = button(model.open ? 'collapse' : 'expand', 'Show or hide the class', () =>
    model.toggle()
  );
  const refresh = button('refresh', 'Read the class again', () => model.refresh());
  title.append(
    fold,
    text('strong', 'Class'),
    text('span', `${view.learners.length} learners`, 'jp-VirtworkPanel-uri'),
    refresh
  );
  section.appendChild(title);
  if (!model.open) {
    return section;
  }
  if (model.error) {
    section.appendChild(note(`${model.error}; retrying`, 'jp-VirtworkPanel-error'));
  }
  const rows = view.rows
    .filter(r => words.every(w => haystack(r).includes(w)))
    .sort((a, b) => a.learner.localeCompare(b.learner) || a.name.localeCompare(b.name));
  section.appendChild(
    rows.length
      ? table(rows)
      : note(words.length ? 'nothing matches the filter' : 'no learner runs anything')
  );
  for (const learner of view.learners) {
    section.appendChild(learnerLine(model, learner, readOnly === false));
  }
  return section;
}

function count(n: number): string {
  return `${n} resource${n === 1 ? '' : 's'}`;
}

function haystack(row: IClassRow): string {
  return `${row.learner} ${row.namespace} ${row.kind} ${row.name} ${row.state}`.toLowerCase();
}

function table(rows: IClassRow[]): HTMLElement {
  const element = document.createElement('table');
  element.className = 'jp-VirtworkPanel-classTable';
  const head = element.createTHead().insertRow();
  for (const column of COLUMNS) {
    head.appendChild(text('th', column));
  }
  const body = element.createTBody();
  for (const row of rows) {
    const line = body.insertRow();
    line.className = 'jp-VirtworkPanel-classRow';
    line.dataset.learner = row.learner;
    line.dataset.kind = row.kind;
    line.dataset.name = row.name;
    line.dataset.state = row.state;
    line.title = `${row.kind} ${row.name} in ${row.namespace}, ${row.state}`;
    line.insertCell().textContent = row.learner;
    line.insertCell().textContent = row.kind;
    line.insertCell().textContent = row.name;
    line.insertCell().appendChild(badge(row.state));
  }
  return element;
}

/** A learner, their namespace, why it could not be read, and their cleanup button (none in
 * read-only mode, where the server would refuse it). */
function learnerLine(model: ClassModel, learner: ILearner, actions: boolean): HTMLElement {
  const busy = model.busy.has(learner.learner);
  const line = document.createElement('div');
  line.className = 'jp-VirtworkPanel-learner';
  line.dataset.learner = learner.learner;
  line.append(
    text('span', learner.learner, 'jp-VirtworkPanel-name'),
    text('span', learner.namespace, 'jp-VirtworkPanel-uri')
  );
  if (actions) {
    const title = `Clean up what ${learner.learner}'s notebooks made: ${learner.command}`;
    const cleanup = button('cleanup', title, () => cleanUp(model, learner.learner));
    cleanup.disabled = busy;
    line.appendChild(cleanup);
  }
  if (learner.error) {
    line.appendChild(note(learner.error, 'jp-VirtworkPanel-error'));
  }
  return line;
}

async function cleanUp(model: ClassModel, learner: string): Promise<void> {
  model.setBusy(learner, true);
  try {
    const planned = await classCleanup(learner, false);
    const found = planned.resources ?? [];
    if (!found.length) {
      Notification.info(`Nothing of ${learner}'s notebooks to clean up`, { autoClose: 4000 });
      return;
    }
    const body = document.createElement('div');
    body.append(
      ...found.map(r => text('div', `${r.kind} ${r.name}`)),
      text('code', planned.command)
    );
    // Cancel is the default: Enter or Escape keeps the learner's work.
    const answer = await showDialog({
      title: `Remove ${count(found.length)} made by ${learner}'s notebooks?`,
      body: new Widget({ node: body }),
      buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Remove' })],
      defaultButton: 0
    });
    if (!answer.button.accept) {
      return;
    }
    const done = await classCleanup(learner, true);
    const command = done.command;
    Notification.success(`Removed ${count(done.removed?.length ?? 0)} of ${learner}`, {
      autoClose: 4000,
      actions: [
        { label: 'Copy command', caption: command, callback: () => Clipboard.copyToSystem(command) }
      ]
    });
  } catch (error) {
    const why = error instanceof ApiError ? `${error.message} (${error.code})` : `${error}`;
    Notification.error(`Cleaning up ${learner} failed: ${why}`, { autoClose: 8000 });
  } finally {
    model.setBusy(learner, false);
    model.refresh();
  }
}
