// The panel's small DOM pieces: text, state badges, notes and icon buttons.
import {
  LabIcon,
  caretDownIcon,
  caretRightIcon,
  copyIcon,
  deleteIcon,
  pauseIcon,
  refreshIcon,
  runIcon,
  stopIcon
} from '@jupyterlab/ui-components';

// Icons, not words: the left area is narrow, and the names need the room.
const ICONS: Record<string, LabIcon> = {
  start: runIcon,
  stop: stopIcon,
  pause: pauseIcon,
  resume: runIcon,
  delete: deleteIcon,
  copy: copyIcon,
  refresh: refreshIcon,
  cleanup: deleteIcon,
  collapse: caretDownIcon,
  expand: caretRightIcon
};

export function text(tag: string, content: string, className = ''): HTMLElement {
  const element = document.createElement(tag);
  element.textContent = content;
  if (className) {
    element.className = className;
  }
  return element;
}

export function badge(state: string, extra = ''): HTMLElement {
  return text('span', state, `jp-VirtworkPanel-badge jp-mod-${state} ${extra}`.trim());
}

export function note(content: string, className = 'jp-VirtworkPanel-note'): HTMLElement {
  return text('div', content, className);
}

export function button(action: string, title: string, onClick: () => void): HTMLButtonElement {
  const element = document.createElement('button');
  element.className = 'jp-VirtworkPanel-button';
  element.dataset.action = action;
  element.title = title;
  element.setAttribute('aria-label', title);
  const icon = ICONS[action];
  if (icon) {
    icon.element({ container: element, tag: 'span', elementSize: 'normal' });
  } else {
    element.textContent = action;
  }
  element.addEventListener('click', onClick);
  return element;
}
