// The teacher's view of the class, kept fresh by polling GET class while its section is
// open (the class is one list call per learner namespace and kind: no event stream). A
// server whose credentials are not a teacher's answers 403 (no Kubernetes at all: 404);
// then there is no view, and the panel shows no "Class" section.
import { ISignal, Signal } from '@lumino/signaling';

import { ApiError, IClassView, classView } from './api';

const POLL_MS = 5000;
// The answers that mean "not a teacher here", as opposed to a server that failed once.
const NO_CLASS = new Set([403, 404]);

export class ClassModel {
  /** The last answer; null when the server has no class for these credentials. */
  view: IClassView | null = null;
  /** Why the last poll failed, while the last view is still shown. */
  error = '';
  /** The section is unfolded: only then is the class polled. */
  open = true;
  /** Learners being cleaned up. */
  readonly busy = new Set<string>();
  private _timer = 0;
  private _asked = 0; // only the latest answer counts, and only it polls again
  private _disposed = false;
  private _changed = new Signal<this, void>(this);

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** Ask the server now, and then every few seconds while the section is open. */
  async refresh(): Promise<void> {
    window.clearTimeout(this._timer);
    if (this._disposed) {
      return;
    }
    const asked = ++this._asked;
    let view: IClassView | null = this.view;
    let why = '';
    try {
      view = await classView();
    } catch (error) {
      if (error instanceof ApiError && NO_CLASS.has(error.status)) {
        view = null;
      } else {
        why = error instanceof ApiError ? error.message : `${error}`;
      }
    }
    if (asked !== this._asked) {
      return;
    }
    this.view = view;
    this.error = why;
    this._changed.emit();
    if (this.view && this.open && !this._disposed) {
      this._timer = window.setTimeout(() => this.refresh(), POLL_MS);
    }
  }

  toggle(): void {
    this.open = !this.open;
    this._changed.emit();
    if (this.open) {
      this.refresh();
    } else {
      window.clearTimeout(this._timer);
    }
  }

  /** A learner's cleanup started or ended: their button shows it. */
  setBusy(learner: string, busy: boolean): void {
    if (busy) {
      this.busy.add(learner);
    } else {
      this.busy.delete(learner);
    }
    this._changed.emit();
  }

  dispose(): void {
    this._disposed = true;
    window.clearTimeout(this._timer);
  }
}
