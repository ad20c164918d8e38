// The "Virtwork" side panel: rows grouped by connection, state badges, per-row actions,
// a filter box, "copy the equivalent command", a visible status per connection, and for a
// teacher the class (classview.ts).
// Plain DOM: the list is redrawn (at most once a frame) from the model; the header, with
// the filter box and its focus, stays put.
import { Clipboard, Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { ApiError, IRow, act } from './api';
import { renderClass } from './classview';
import { badge, button, note, text } from './dom';
import { IGroup, VirtworkModel } from './model';

// The actions that ask first, naming what (as the magics' delete, rm, stop and cleanup do).
const DESTRUCTIVE: Record<string, string> = {
  stop: 'Stop',
  delete: 'Delete'
};

const KIND_LABEL: Record<string, string> = {
  container: 'container',
  pod: 'pod',
  vm: 'VM'
};

export class VirtworkPanel extends Widget {
  private _list: HTMLElement;
  private _filter: HTMLInputElement;
  private _frame = 0;
  private _busy = new Set<string>();
  private _mode: HTMLElement;

  constructor(readonly model: VirtworkModel) {
    super();
    this.id = 'jupyter-virtwork-panel';
    this.addClass('jp-VirtworkPanel');
    this.title.caption = 'Virtwork: containers, pods and VMs';

    const header = document.createElement('div');
    header.className = 'jp-VirtworkPanel-header';
    header.innerHTML = '<h2>Virtwork</h2>';
    this._mode = text('span', 'read-only', 'jp-VirtworkPanel-readOnly');
    this._mode.title = 'The server is in read-only mode (VirtworkServer.read_only, VW_READONLY)';
    header.appendChild(this._mode);
    const refresh = button('refresh', 'Reconnect and re-read the connections', () =>
      model.refresh()
    );
    refresh.classList.add('jp-VirtworkPanel-refresh');
    header.appendChild(refresh);

    this._filter = document.createElement('input');
    this._filter.className = 'jp-VirtworkPanel-filter jp-mod-styled';
    this._filter.type = 'search';
    this._filter.placeholder = 'Filter by name, state, kind or connection';
    this._filter.addEventListener('input', () => this.schedule());

    this._list = document.createElement('div');
    this._list.className = 'jp-VirtworkPanel-list';
    this.node.append(header, this._filter, this._list);

    model.changed.connect(() => this.schedule());
    model.classroom.changed.connect(() => this.schedule());
    model.failed.connect((_, message) => Notification.warning(message, { autoClose: 5000 }));
  }

  schedule(): void {
    if (!this._frame) {
      this._frame = requestAnimationFrame(() => {
        this._frame = 0;
        this.render();
      });
    }
  }

  render(): void {
    const words = this._filter.value.toLowerCase().split(/\s+/).filter(Boolean);
    const groups = [...this.model.groups.values()].map(g => this._group(g, words));
    if (!groups.length) {
      groups.push(note('No connections yet: the server is being asked.'));
    }
    const classroom = renderClass(this.model.classroom, this.model.readOnly, words);
    this._list.replaceChildren(...groups, ...(classroom ? [classroom] : []));
    this._mode.hidden = this.model.readOnly !== true;
    this.node.classList.toggle('jp-mod-readOnly', this.model.readOnly === true);
  }

  private _group(group: IGroup, words: string[]): HTMLElement {
    const { connection } = group;
    const feeds = [...group.feeds.values()];
    const down = feeds.find(f => f.status === 'disconnected');
    const live = feeds.length > 0 && feeds.every(f => f.status === 'connected');
    const status = down ? 'disconnected' : live ? 'connected' : 'connecting';

    const section = document.createElement('section');
    section.className = `jp-VirtworkPanel-group jp-mod-${status}`;
    section.dataset.connection = connection.alias;
    section.dataset.status = status;

    const title = document.createElement('div');
    title.className = 'jp-VirtworkPanel-groupTitle';
    title.title = `${connection.uri} (${connection.why})`;
    title.append(
      text('strong', connection.alias),
      text('span', connection.uri, 'jp-VirtworkPanel-uri'),
      badge(status, 'jp-VirtworkPanel-status')
    );
    section.appendChild(title);
    if (down) {
      section.appendChild(note(down.message || 'disconnected; retrying', 'jp-VirtworkPanel-error'));
    }

    const rows = feeds
      .flatMap(f => [...f.rows.values()])
      .filter(r => matches(r, words))
      .sort((a, b) => a.kind.localeCompare(b.kind) || a.name.localeCompare(b.name));
    for (const row of rows) {
      section.appendChild(this._row(row));
    }
    if (!rows.length && !down) {
      section.appendChild(note(words.length ? 'nothing matches the filter' : 'nothing here'));
    }
    return section;
  }

  private _row(row: IRow): HTMLElement {
    const key = `${row.connection}/${row.kind}/${row.id}`;
    const busy = this._busy.has(key);
    const element = document.createElement('div');
    element.className = 'jp-VirtworkPanel-row';
    element.dataset.name = row.name;
    element.dataset.kind = row.kind;
    element.dataset.state = row.state;
    element.title = `${KIND_LABEL[row.kind] ?? row.kind} ${row.name} (${row.id}), ${row.state}`;
    element.classList.toggle('jp-mod-busy', busy);

    // The group already says which engine (and so which kind): the name gets the room.
    const name = text('span', row.name, 'jp-VirtworkPanel-name');
    const actions = document.createElement('span');
    actions.className = 'jp-VirtworkPanel-actions';
    // Read-only mode: the server would refuse every action, so none is offered.
    for (const action of this.model.readOnly === false ? row.actions : []) {
      const title = `${action}: ${row.commands[action] || row.name}`;
      const run = button(action, title, () => this._act(row, action));
      run.disabled = busy;
      actions.appendChild(run);
    }
    const primary = row.actions.find(a => a !== 'delete') ?? 'get';
    const command = row.commands[primary] || row.commands.get;
    if (command) {
      const copy = button('copy', `Copy the equivalent command: ${command}`, () => {
        Clipboard.copyToSystem(command);
        Notification.info(`Copied: ${command}`, { autoClose: 3000 });
      });
      actions.appendChild(copy);
    }
    element.append(badge(busy ? 'working' : row.state), name, actions);
    return element;
  }

  private async _act(row: IRow, action: string): Promise<void> {
    const verb = DESTRUCTIVE[action];
    if (verb) {
      // Cancel is the default: Enter or Escape keeps the workload.
      const answer = await showDialog({
        title: `${verb} ${KIND_LABEL[row.kind] ?? row.kind} ${row.name}?`,
        body: row.commands[action] || '',
        buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: verb })],
        defaultButton: 0
      });
      if (!answer.button.accept) {
        return;
      }
    }
    const key = `${row.connection}/${row.kind}/${row.id}`;
    this._busy.add(key);
    this.schedule();
    try {
      const { resource, command } = await act(row, action);
      this.model.update(resource);
      Notification.success(`${action} ${row.name}: ${resource.state}`, {
        autoClose: 4000,
        actions: command
          ? [
              {
                label: 'Copy command',
                caption: command,
                callback: () => Clipboard.copyToSystem(command)
              }
            ]
          : []
      });
    } catch (error) {
      const why = error instanceof ApiError ? `${error.message} (${error.code})` : `${error}`;
      Notification.error(`${action} ${row.name} failed: ${why}`, { autoClose: 8000 });
    } finally {
      this._busy.delete(key);
      this.schedule();
    }
  }
}

function matches(row: IRow, words: string[]): boolean {
  const haystack =
    `${row.name} ${row.id} ${row.state} ${row.kind} ${row.connection}`.toLowerCase();
  return words.every(w => haystack.includes(w));
}
