-- Neovim's built-in LSP client (0.7+) against `mig lsp`: opens a plan with
-- an error, waits for its diagnostics, then asks for hover, definition and
-- formatting. Run by nvim_session.sh; exits non-zero on any failure.
local mig = assert(os.getenv('MIG_BINARY'), 'MIG_BINARY is not set')
local dir = assert(os.getenv('MIG_LSP_DIR'), 'MIG_LSP_DIR is not set')

local failures = 0
local function check(condition, what)
  if not condition then
    failures = failures + 1
    io.stderr:write('FAILED: ' .. what .. '\n')
  end
end

-- Line 11 (0-based) holds non-ASCII text before the undefined `nope`:
-- nvim speaks UTF-16 and must get the column right.
local plan = {
  'import "std/wait"',
  '',
  'plan demo {',
  '  retain 72h',
  '',
  '  phase migration {',
  '    step first = wait.until(cmd: "true", timeout: 1m)',
  '  }',
  '',
  '  phase verification {',
  '    step second {',
  '      do    sh("echo é😀 ${nope}")',
  '      after first',
  '    }',
  '  }',
  '}',
}
local path = dir .. '/demo.mig'
local file = assert(io.open(path, 'w'))
file:write(table.concat(plan, '\n') .. '\n')
file:close()

vim.cmd('edit ' .. vim.fn.fnameescape(path))
local bufnr = vim.api.nvim_get_current_buf()
local client_id = vim.lsp.start_client({
  name = 'mig',
  cmd = { mig, 'lsp' },
  root_dir = dir,
})
check(client_id ~= nil, 'the client starts')
vim.lsp.buf_attach_client(bufnr, client_id)

local got = vim.wait(20000, function() return #vim.diagnostic.get(bufnr) > 0 end, 50)
check(got, 'diagnostics arrive')
local diagnostics = vim.diagnostic.get(bufnr)
check(#diagnostics == 1, 'one diagnostic, got ' .. #diagnostics)
local d = diagnostics[1] or {}
-- Byte columns: `      do    sh("echo ` is 21 bytes, é 2, 😀 4, ` ${` 3.
check(d.lnum == 11 and d.col == 30 and d.end_col == 34,
  string.format('diagnostic at 11:30-34, got %s:%s-%s', d.lnum, d.col, d.end_col))
check(d.code == 'undefined-reference', 'rule undefined-reference, got ' .. tostring(d.code))
check(d.severity == vim.diagnostic.severity.ERROR, 'an error')
check(d.source == 'mig', 'source mig')

local function request(method, params)
  local responses = vim.lsp.buf_request_sync(bufnr, method, params, 10000) or {}
  local response = responses[client_id] or {}
  check(response.err == nil, method .. ' answered without error: ' .. vim.inspect(response.err))
  return response.result
end

local function at(line, character)
  return { textDocument = vim.lsp.util.make_text_document_params(bufnr),
           position = { line = line, character = character } }
end

local hover = request('textDocument/hover', at(6, 24)) -- on `until` in `wait.until`
local value = hover and hover.contents and hover.contents.value or ''
check(value:find('action wait.until(cmd: command, timeout: duration, every: duration = 5s)', 1, true),
  'hover shows the signature, got: ' .. value)
check(value:find('Runs `cmd` every `every` until it succeeds', 1, true), 'hover shows the doc comment')

local definition = request('textDocument/definition', at(12, 13)) -- on `first` in `after first`
check(definition and definition.uri == vim.uri_from_fname(path), 'definition in the plan: ' .. vim.inspect(definition))
check(definition and definition.range.start.line == 6 and definition.range.start.character == 9,
  'definition at 6:9: ' .. vim.inspect(definition and definition.range))

-- Formatting through the client's own edit machinery.
vim.api.nvim_buf_set_lines(bufnr, 3, 4, false, { '  retain     72h' })
vim.lsp.buf.formatting_sync(nil, 10000)
local line = vim.api.nvim_buf_get_lines(bufnr, 3, 4, false)[1]
check(line == '  retain 72h', 'formatting restores the line, got: ' .. tostring(line))

vim.lsp.stop_client(client_id)
vim.wait(5000, function() return vim.lsp.get_client_by_id(client_id) == nil end, 50)

if failures > 0 then
  io.stderr:write(failures .. ' check(s) failed\n')
  vim.cmd('cquit 1')
end
io.stderr:write('nvim session: all checks passed\n')
vim.cmd('qall!')
