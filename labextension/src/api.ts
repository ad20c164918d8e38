// The server extension's REST API and its WebSocket of live events (jupyter_virtwork/server).
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

const API = 'virtwork/api';

/** One resource as the server sends it (Resource.to_dict plus the panel's fields). */
export interface IRow {
  uri: string;
  kind: string;
  id: string;
  name: string;
  state: string;
  labels: Record<string, string>;
  created: string | null;
  connection: string;
  actions: string[];
  commands: Record<string, string>;
  [detail: string]: unknown;
}

/** How the panel follows a connection and kind: the server's words (StreamStatus in
 * jupyter_virtwork/models.py, the one vocabulary; a test keeps the two lists equal). */
export type StreamStatus = 'connecting' | 'connected' | 'disconnected' | 'unknown';

export interface IConnection {
  alias: string;
  uri: string;
  family: string;
  why: string;
  kinds: string[];
  status: StreamStatus;
  message: string;
}

/** Messages on the event WebSocket. */
export type Message =
  | {
      type: 'snapshot';
      connection: string;
      kind: string;
      status: StreamStatus;
      message: string;
      rows: IRow[];
    }
  | {
      type: 'status';
      connection: string;
      kind: string;
      status: StreamStatus;
      message: string;
    }
  | {
      type: 'event';
      connection: string;
      kind: string;
      event: 'ADDED' | 'MODIFIED' | 'DELETED';
      row: IRow;
    };

/** An error the server answered with: its {code, message} body. */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number
  ) {
    super(message);
  }
}

async function request<T>(path: string, init: RequestInit = {}): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, API, path);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new ApiError('NetworkError', `the Jupyter server did not answer: ${error}`, 0);
  }
  const text = await response.text();
  let body: any = {};
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    body = { message: text };
  }
  if (!response.ok) {
    throw new ApiError(
      body.code ?? 'HTTPError',
      body.message ?? response.statusText,
      response.status
    );
  }
  return body as T;
}

/** The server's settings the panel follows: in read-only mode it offers no actions. */
export interface IServerConfig {
  read_only: boolean;
  actions: string[];
}

export function config(): Promise<IServerConfig> {
  return request('config');
}

export function connections(): Promise<{ connections: IConnection[] }> {
  return request('connections');
}

export function act(
  row: IRow,
  action: string
): Promise<{ resource: IRow; command: string }> {
  const path = [row.connection, row.kind, row.id, action].map(encodeURIComponent);
  return request(`resources/${path.join('/')}`, { method: 'POST' });
}

/** One workload of the class (GET class): a learner's pod or deployment. */
export interface IClassRow {
  learner: string;
  namespace: string;
  kind: string;
  id: string;
  name: string;
  state: string;
  labels: Record<string, string>;
  [detail: string]: unknown;
}

/** A learner of the class; ``error`` says why their namespace could not be read. */
export interface ILearner {
  learner: string;
  namespace: string;
  command: string;
  error: string;
}

/** The teacher's view: every learner, and their workloads with a learner column. Only a
 * teacher's credentials get it; anyone else's get 403 (a server without Kubernetes: 404). */
export interface IClassView {
  learners: ILearner[];
  rows: IClassRow[];
  command: string;
}

export function classView(): Promise<IClassView> {
  return request('class');
}

/** What a cleanup of one learner would remove (GET), or removed (POST). */
export interface ICleanup {
  learner: string;
  namespace: string;
  command: string;
  resources?: IClassRow[];
  removed?: IClassRow[];
}

export function classCleanup(learner: string, run: boolean): Promise<ICleanup> {
  const path = `class/${encodeURIComponent(learner)}/cleanup`;
  return request(path, run ? { method: 'POST' } : {});
}

/** Open the event socket with the same authentication as the kernels' sockets. */
export function openEvents(): WebSocket {
  const settings = ServerConnection.makeSettings();
  let url = URLExt.join(settings.wsUrl, API, 'events');
  if (settings.appendToken && settings.token) {
    url += `?token=${encodeURIComponent(settings.token)}`;
  }
  return new settings.WebSocket(url);
}
