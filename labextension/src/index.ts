// The JupyterLab plugin: adds the Virtwork side panel and a command-palette entry.
import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { LabIcon } from '@jupyterlab/ui-components';

import { VirtworkModel } from './model';
import { VirtworkPanel } from './panel';

const ICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><g class="jp-icon3" fill="#616161"><rect x="3" y="4" width="18" height="5" rx="1"/><rect x="3" y="10" width="18" height="5" rx="1"/><rect x="3" y="16" width="18" height="5" rx="1"/></g></svg>`;

export const virtworkIcon = new LabIcon({ name: 'jupyter-virtwork:icon', svgstr: ICON_SVG });

const OPEN = 'virtwork:open';
const REFRESH = 'virtwork:refresh';

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-virtwork:panel',
  description: 'Containers, pods and VMs of every connection, live, with actions.',
  autoStart: true,
  optional: [ICommandPalette, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null
  ) => {
    const model = new VirtworkModel();
    const panel = new VirtworkPanel(model);
    panel.title.icon = virtworkIcon;
    app.shell.add(panel, 'left', { rank: 600 });
    restorer?.add(panel, 'jupyter-virtwork-panel');
    model.start();

    app.commands.addCommand(OPEN, {
      label: 'Virtwork: Show Containers, Pods and VMs',
      execute: () => app.shell.activateById(panel.id)
    });
    app.commands.addCommand(REFRESH, {
      label: 'Virtwork: Reconnect to the Engines',
      execute: () => model.refresh()
    });
    for (const command of [OPEN, REFRESH]) {
      palette?.addItem({ command, category: 'Virtwork' });
    }
  }
};

export default plugin;
