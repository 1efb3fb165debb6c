// Starts `mig lsp` for .mig files. The server does the work; this file only
// tells VS Code how to run it (setting mig.path, default `mig` on PATH).
const vscode = require('vscode');
const {LanguageClient} = require('vscode-languageclient/node');

let client;

function activate(context) {
  const command = vscode.workspace.getConfiguration('mig').get('path') || 'mig';
  const server = {command, args: ['lsp']};
  client = new LanguageClient(
      'mig',
      'mig language server',
      {run: server, debug: server},
      {documentSelector: [{scheme: 'file', language: 'mig'}]},
  );
  context.subscriptions.push(client);
  return client.start();
}

function deactivate() { return client ? client.stop() : undefined; }

module.exports = {
  activate,
  deactivate
};
