// What the panel shows, kept in step with the server's event socket. The socket reconnects
// with backoff; while it is down every connection shows as disconnected.
import { ISignal, Signal } from '@lumino/signaling';

import {
  IConnection,
  IRow,
  Message,
  StreamStatus,
  config,
  connections,
  openEvents
} from './api';
import { ClassModel } from './classroom';

export interface IFeed {
  kind: string;
  status: StreamStatus;
  message: string;
  rows: Map<string, IRow>;
}

export interface IGroup {
  connection: IConnection;
  feeds: Map<string, IFeed>;
}

const BACKOFF = [500, 1000, 2000, 5000, 10000];

export class VirtworkModel {
  readonly groups = new Map<string, IGroup>();
  socketOpen = false;
  /** The server refuses every change (VirtworkServer.read_only): no action buttons. Null
   * until the server has said: the panel offers none meanwhile. */
  readOnly: boolean | null = null;
  /** The teacher's view of the class: none unless the server's credentials are a teacher's. */
  readonly classroom = new ClassModel();
  private _socket: WebSocket | null = null;
  private _attempt = 0;
  private _timer = 0;
  private _disposed = false;
  private _changed = new Signal<this, void>(this);
  private _failed = new Signal<this, string>(this);

  /** Something to redraw. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** A problem worth a notification (once per outage, not once per retry). */
  get failed(): ISignal<this, string> {
    return this._failed;
  }

  start(): void {
    this._connect();
    this.classroom.refresh();
  }

  /** Re-read the connections and re-open the socket (the server re-reads its defaults). */
  refresh(): void {
    this._attempt = 0;
    this._socket?.close();
    window.clearTimeout(this._timer);
    this._connect();
    this.classroom.refresh();
  }

  dispose(): void {
    this._disposed = true;
    window.clearTimeout(this._timer);
    this._socket?.close();
    this.classroom.dispose();
  }

  /** Replace a row after an action answered (the event will confirm it shortly). */
  update(row: IRow): void {
    const feed = this.groups.get(row.connection)?.feeds.get(row.kind);
    if (feed) {
      if (row.state === 'deleted') {
        feed.rows.delete(row.id);
      } else {
        feed.rows.set(row.id, row);
      }
      this._changed.emit();
    }
  }

  private async _connect(): Promise<void> {
    if (this._disposed) {
      return;
    }
    try {
      const [settings, { connections: found }] = await Promise.all([config(), connections()]);
      this.readOnly = settings.read_only;
      this._setConnections(found);
    } catch (error) {
      this._lost(`${error}`);
      return;
    }
    const socket = openEvents();
    this._socket = socket;
    socket.onopen = () => {
      this._attempt = 0;
      this.socketOpen = true;
      this._changed.emit();
    };
    socket.onmessage = event => this._receive(JSON.parse(event.data) as Message);
    socket.onclose = () => {
      if (this._socket === socket) {
        this._socket = null;
        this._lost('the event stream closed');
      }
    };
  }

  private _lost(why: string): void {
    if (this.socketOpen || this._attempt === 0) {
      this._failed.emit(`Virtwork: lost the server's event stream (${why}); retrying`);
    }
    this.socketOpen = false;
    for (const group of this.groups.values()) {
      for (const feed of group.feeds.values()) {
        feed.status = 'disconnected';
        feed.message = 'the Jupyter server is not answering; retrying';
      }
    }
    this._changed.emit();
    const delay = BACKOFF[Math.min(this._attempt++, BACKOFF.length - 1)];
    this._timer = window.setTimeout(() => this._connect(), delay);
  }

  private _setConnections(found: IConnection[]): void {
    const keep = new Set(found.map(c => c.alias));
    for (const alias of this.groups.keys()) {
      if (!keep.has(alias)) {
        this.groups.delete(alias);
      }
    }
    for (const connection of found) {
      const group = this.groups.get(connection.alias);
      if (group) {
        group.connection = connection;
      } else {
        this.groups.set(connection.alias, { connection, feeds: new Map() });
      }
    }
    this._changed.emit();
  }

  private _feed(alias: string, kind: string): IFeed | null {
    const group = this.groups.get(alias);
    if (!group) {
      return null;
    }
    let feed = group.feeds.get(kind);
    if (!feed) {
      feed = { kind, status: 'connecting', message: '', rows: new Map() };
      group.feeds.set(kind, feed);
    }
    return feed;
  }

  private _receive(message: Message): void {
    const feed = this._feed(message.connection, message.kind);
    if (!feed) {
      return;
    }
    if (message.type === 'snapshot') {
      feed.rows = new Map(message.rows.map(r => [r.id, r]));
      feed.status = message.status;
      feed.message = message.message;
    } else if (message.type === 'status') {
      if (message.status === 'disconnected' && feed.status !== 'disconnected') {
        this._failed.emit(`${message.connection}: ${message.message}`);
      }
      feed.status = message.status;
      feed.message = message.message;
    } else if (message.event === 'DELETED') {
      feed.rows.delete(message.row.id);
    } else {
      feed.rows.set(message.row.id, message.row);
    }
    this._changed.emit();
  }
}
