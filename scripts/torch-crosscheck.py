#!/usr/bin/env python3
"""Cross-checks a gradstorm dump (schema gradstorm.dump/1) against PyTorch.

    python3 scripts/torch-crosscheck.py DUMP.json [DUMP.json ...] [--tolerance 1e-4]

For each dump: rebuilds the model its `config` names in torch float64 from the
dumped parameters, input and target (README.md, "Cross-checking with
PyTorch"), runs forward, loss and backward with PyTorch's autograd, and
compares the loss and every gradient with the dump's. A tensor's error is
max |g_dump - g_torch| / max |g| (the larger of the two tensors' max |g|;
0 when both are all zero); the loss's error is |L_dump - L_torch| divided by
the loss's scale (|L| for mse, sum |g * y| for probe, where terms cancel).

Prints a table per dump, then one JSON line (schema gradstorm.crosscheck/1).
Exit 0: every error within --tolerance (default 1e-4: the GPU runs float32);
1: some error above it (the table and the JSON name the tensors);
2: a dump it cannot read, a model it does not know, or no PyTorch.

Models (the conventions of src/models/*-reference.ts and DESIGN.md):
  mlp   layers 1..L-1 h = phi(h W^T + b), layer L a linear readout; with
        `residual` A > 0 the layers 2..L-1 are pre-activation blocks
        h = h + A (phi(h) W^T + b); with `norm` 'layer', LayerNorm (eps 1e-5,
        or the dump's layerNormEps; gamma/beta ln{l}.*) pre: h = h + A (phi(LN_l(h)) W^T + b) and a final
        LN_L before the readout; post: h = LN_l(h + A (phi(h) W^T + b)).
  rnn   h_t = phi(x_t Wxh^T + h_{t-1} Whh^T + bh), h_0 = 0; y_t = h_t Why^T + by
        at t = T (lossAt last) or every t (all); truncated BPTT (`bptt` k)
        cuts the recurrence between t and t+1 where (T - t) mod k = 0.
  lstm  torch.nn.LSTMCell (gates i, f, g, o) with weight_ih = W_ih [4H, in],
        weight_hh = W_hh [4H, H], bias_ih = b [4H], bias_hh = 0; readout
        y_t = h_t W_hy^T + b_y; the same readout placement and truncation.
Loss: mse = mean over every output element of (y - target)^2; probe =
sum(target * y) (the dump's target is the fixed cotangent g).
"""
import argparse
import json
import math
import sys

SCHEMA = 'gradstorm.dump/1'
RESULT_SCHEMA = 'gradstorm.crosscheck/1'
EXIT_OK, EXIT_MISMATCH, EXIT_UNREADABLE = 0, 1, 2
LAYERNORM_EPS = 1e-5
INSTALL = 'install it: apt-get install -y python3-torch (Debian: for /usr/bin/python3, so run the script with that one), or pip install torch'

try:
    import torch
    import torch.nn.functional as F
    try:  # torch >= 2.0; the stateless form warns there
        from torch.func import functional_call
    except ImportError:
        from torch.nn.utils.stateless import functional_call
except ImportError as error:  # what to do, not a traceback
    sys.stderr.write(f'torch-crosscheck: PyTorch is missing for {sys.executable} ({error}); {INSTALL}\n')
    sys.exit(EXIT_UNREADABLE)


class DumpError(Exception):
    """A dump this script cannot check: the message says what is wrong."""


def field(obj, key, kind, where):
    if not isinstance(obj, dict) or key not in obj:
        raise DumpError(f'{where}{key}: missing')
    value = obj[key]
    if kind is not None and not isinstance(value, kind):
        raise DumpError(f'{where}{key}: expected {kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)}, got {type(value).__name__}')
    return value


def to_tensor(entry, where):
    """A {shape, data} object as a float64 tensor (null -> NaN: the dump writes non-finite values as null)."""
    shape = field(entry, 'shape', list, where)
    data = field(entry, 'data', list, where)
    if not all(isinstance(n, int) and n >= 0 for n in shape):
        raise DumpError(f'{where}shape: expected non-negative integers, got {shape}')
    size = math.prod(shape)
    if len(data) != size:
        raise DumpError(f'{where}data: expected {size} values (shape {shape}), got {len(data)}')
    try:
        values = [math.nan if v is None else float(v) for v in data]
    except (TypeError, ValueError):
        raise DumpError(f'{where}data: expected numbers (or null)') from None
    return torch.tensor(values, dtype=torch.float64).reshape(shape)


def named_tensors(dump, key):
    out = {}
    for i, entry in enumerate(field(dump, key, list, '')):
        name = field(entry, 'name', str, f'{key}[{i}].')
        if name in out:
            raise DumpError(f'{key}[{i}].name: {name} appears twice')
        out[name] = to_tensor(entry, f'{key}[{i}] ({name}).')
    return out


def expect_shape(tensors, name, shape, what):
    if name not in tensors:
        raise DumpError(f'{what}: tensor {name} is missing')
    if list(tensors[name].shape) != list(shape):
        raise DumpError(f'{what}: tensor {name} has shape {list(tensors[name].shape)}, expected {list(shape)}')


def activation(name):
    table = {'relu': torch.relu, 'tanh': torch.tanh, 'linear': lambda z: z}
    if name not in table:
        raise DumpError(f'config.activation: {name!r} is not one of {", ".join(table)}')
    return table[name]


def loss_and_scale(kind, y, target):
    """The loss (DESIGN.md) and the scale its error is measured against."""
    if list(y.shape) != list(target.shape):
        raise DumpError(f'target: shape {list(target.shape)} does not match the output {list(y.shape)}')
    if kind == 'mse':
        value = ((y - target) ** 2).mean()
        return value, abs(value.item())
    if kind == 'probe':
        terms = target * y
        return terms.sum(), terms.abs().sum().item()
    raise DumpError(f'config.loss: {kind!r} is neither mse nor probe')


# ---------------------------------------------------------------------------
# Models: each returns (expected parameter names and shapes, a function of the params -> (loss, scale), a description)

def mlp_model(config, x, target, layer_norm_eps=LAYERNORM_EPS):
    L = field(config, 'depth', int, 'config.')
    width = field(config, 'width', int, 'config.')
    n_in = field(config, 'input', int, 'config.')
    n_out = field(config, 'output', int, 'config.')
    batch = field(config, 'batch', int, 'config.')
    phi = activation(field(config, 'activation', str, 'config.'))
    loss_kind = field(config, 'loss', str, 'config.')
    A = float(config.get('residual') or 0)
    norm = config.get('norm', 'none')
    if norm not in ('none', 'layer'):
        raise DumpError(f'config.norm: {norm!r} is neither none nor layer')
    # LayerNorm only sits in residual blocks (src/models/config.ts layerNormPlace).
    place = config.get('normPlace', 'pre') if norm == 'layer' and A > 0 and L >= 3 else None
    if place not in (None, 'pre', 'post'):
        raise DumpError(f'config.normPlace: {place!r} is neither pre nor post')
    if list(x.shape) != [batch, n_in]:
        raise DumpError(f'input: shape {list(x.shape)}, expected [batch, input] = {[batch, n_in]}')

    def block(l):
        return A > 0 and 2 <= l <= L - 1

    shapes = {}
    for l in range(1, L + 1):
        fan_in = n_in if l == 1 else width
        fan_out = n_out if l == L else width
        shapes[f'W{l}'] = [fan_out, fan_in]
        shapes[f'b{l}'] = [fan_out]
    norm_layers = [l for l in range(1, L + 1) if place is not None and (block(l) or (l == L and place == 'pre'))]
    for l in norm_layers:
        shapes[f'ln{l}.gamma'] = [width]
        shapes[f'ln{l}.beta'] = [width]
    eps = layer_norm_eps

    def run(p):
        def ln(v, l):
            return F.layer_norm(v, (width,), p[f'ln{l}.gamma'], p[f'ln{l}.beta'], eps)

        h = x
        for l in range(1, L + 1):
            W, b = p[f'W{l}'], p[f'b{l}']
            if block(l):
                branch_in = ln(h, l) if place == 'pre' else h
                s = h + A * F.linear(phi(branch_in), W, b)
                h = ln(s, l) if place == 'post' else s
            elif l == L:
                h = F.linear(ln(h, l) if place == 'pre' else h, W, b)
            else:
                h = phi(F.linear(h, W, b))
        return loss_and_scale(loss_kind, h, target)

    what = f'mlp depth {L}, width {width}, {n_in} -> {n_out}, batch {batch}, {config.get("activation")}, loss {loss_kind}'
    if A > 0:
        what += f', residual {A:g}'
    if place:
        what += f', LayerNorm {place}'
    return shapes, run, what


def recurrent_model(config, x, target, lstm):
    T = field(config, 'seqLen', int, 'config.')
    H = field(config, 'width', int, 'config.')
    n_in = field(config, 'input', int, 'config.')
    n_out = field(config, 'output', int, 'config.')
    batch = field(config, 'batch', int, 'config.')
    loss_kind = field(config, 'loss', str, 'config.')
    loss_at = config.get('lossAt', 'last')
    if loss_at not in ('last', 'all'):
        raise DumpError(f'config.lossAt: {loss_at!r} is neither last nor all')
    bptt = config.get('bptt', 'full')
    if bptt != 'full' and not (isinstance(bptt, int) and bptt >= 1):
        raise DumpError(f'config.bptt: {bptt!r} is neither "full" nor an integer >= 1')
    k = T if bptt == 'full' else min(bptt, T)
    if list(x.shape) != [T, batch, n_in]:
        raise DumpError(f'input: shape {list(x.shape)}, expected [seqLen, batch, input] = {[T, batch, n_in]}')
    if lstm:
        shapes = {'W_ih': [4 * H, n_in], 'W_hh': [4 * H, H], 'b': [4 * H], 'W_hy': [n_out, H], 'b_y': [n_out]}
    else:
        shapes = {'Wxh': [H, n_in], 'Whh': [H, H], 'bh': [H], 'Why': [n_out, H], 'by': [n_out]}
        phi = activation(field(config, 'activation', str, 'config.'))

    def run(p):
        if lstm:
            cell = torch.nn.LSTMCell(n_in, H, dtype=torch.float64)
            # The cell run on the dump's parameters themselves (their .grad is what autograd computed); one bias: bias_hh = 0.
            weights = {'weight_ih': p['W_ih'], 'weight_hh': p['W_hh'], 'bias_ih': p['b'], 'bias_hh': torch.zeros(4 * H, dtype=torch.float64)}
            W_y, b_y = p['W_hy'], p['b_y']
        else:
            W_y, b_y = p['Why'], p['by']
        h = torch.zeros(batch, H, dtype=torch.float64)
        c = torch.zeros(batch, H, dtype=torch.float64)
        ys = []
        for t in range(1, T + 1):
            if lstm:
                h, c = functional_call(cell, weights, (x[t - 1], (h, c)))
            else:
                h = phi(F.linear(x[t - 1], p['Wxh'], p['bh']) + F.linear(h, p['Whh']))
            if loss_at == 'all' or t == T:
                ys.append(F.linear(h, W_y, b_y))
            # Truncated BPTT: no gradient crosses from step t+1 into step t where (T - t) mod k = 0.
            if t < T and (T - t) % k == 0:
                h, c = h.detach(), c.detach()
        y = torch.stack(ys) if loss_at == 'all' else ys[0]
        return loss_and_scale(loss_kind, y, target)

    task = config.get('task', loss_kind)
    trunc = 'full BPTT' if bptt == 'full' else f'BPTT {bptt}'
    act = '' if lstm else f', {config.get("activation")}'
    what = f'{"lstm" if lstm else "rnn"} T {T}, H {H}, {n_in} -> {n_out}, batch {batch}{act}, task {task}, loss at {loss_at}, {trunc}'
    return shapes, run, what


MODELS = {
    'mlp': lambda dump, c, x, t: mlp_model(c, x, t, float(dump.get('layerNormEps') or LAYERNORM_EPS)),
    'rnn': lambda dump, c, x, t: recurrent_model(c, x, t, lstm=False),
    'lstm': lambda dump, c, x, t: recurrent_model(c, x, t, lstm=True),
}


# ---------------------------------------------------------------------------
# Comparison

def tensor_error(dumped, computed):
    """max |d - t| / max |g| over the finite entries; inf when the two disagree on which entries are finite."""
    fd, ft = torch.isfinite(dumped), torch.isfinite(computed)
    if not torch.equal(fd, ft):
        return math.inf, math.nan
    if not fd.any():
        return 0.0, 0.0
    d, t = dumped[fd], computed[ft]
    scale = max(d.abs().max().item(), t.abs().max().item())
    if scale == 0:
        return 0.0, 0.0
    return (d - t).abs().max().item() / scale, scale


def finite_or_none(value):
    return value if isinstance(value, (int, float)) and math.isfinite(value) else None


def check_dump(path, tolerance):
    try:
        with open(path, encoding='utf-8') as f:
            dump = json.load(f)
    except OSError as error:
        raise DumpError(f'cannot read it: {error.strerror}') from None
    except json.JSONDecodeError as error:
        raise DumpError(f'not JSON: {error}') from None
    if not isinstance(dump, dict):
        raise DumpError('a dump is a JSON object')
    schema = dump.get('schema')
    if schema != SCHEMA:
        raise DumpError(f'schema: expected "{SCHEMA}", got {json.dumps(schema)}')
    config = field(dump, 'config', dict, '')
    model = config.get('model')
    if model not in MODELS:
        raise DumpError(f'config.model: {json.dumps(model)} is not a model this script knows ({", ".join(MODELS)})')
    dumped_loss = field(dump, 'loss', (int, float, type(None)), '')
    x = to_tensor(field(dump, 'input', dict, ''), 'input.')
    target_entry = field(dump, 'target', (dict, type(None)), '')
    if target_entry is None:
        raise DumpError('target: null; the loss needs the target (mse) or the cotangent (probe)')
    target = to_tensor(target_entry, 'target.')
    params = named_tensors(dump, 'params')
    grads = named_tensors(dump, 'grads')
    shapes, run, what = MODELS[model](dump, config, x, target)
    for name, shape in shapes.items():
        expect_shape(params, name, shape, 'params')
        expect_shape(grads, name, shape, 'grads')
    for key, tensors in (('params', params), ('grads', grads)):
        extra = sorted(set(tensors) - set(shapes))
        if extra:
            raise DumpError(f'{key}: {", ".join(extra)} not in a {model} with this config (expected {", ".join(shapes)})')

    leaves = {name: params[name].clone().requires_grad_(True) for name in shapes}
    loss, scale = run(leaves)
    loss.backward()
    computed_loss = loss.item()
    if dumped_loss is None:
        loss_error = 0.0 if not math.isfinite(computed_loss) else math.inf
    else:
        loss_error = abs(dumped_loss - computed_loss) / scale if scale > 0 else abs(dumped_loss - computed_loss)
    rows = []
    for name, shape in shapes.items():
        g = leaves[name].grad
        computed = g if g is not None else torch.zeros(shape, dtype=torch.float64)
        error, max_abs = tensor_error(grads[name], computed)
        rows.append({'name': name, 'shape': shape, 'maxAbs': finite_or_none(max_abs), 'error': finite_or_none(error), 'ok': error <= tolerance})
    loss_row = {'dump': finite_or_none(dumped_loss), 'torch': finite_or_none(computed_loss), 'error': finite_or_none(loss_error), 'ok': loss_error <= tolerance}
    failed = ([] if loss_row['ok'] else ['loss']) + [r['name'] for r in rows if not r['ok']]
    worst = max([('loss', loss_error)] + [(r['name'], math.inf if r['error'] is None else r['error']) for r in rows], key=lambda item: item[1])
    return {
        'schema': RESULT_SCHEMA,
        'dump': path,
        'model': model,
        'describe': what,
        'torch': torch.__version__,
        'tolerance': tolerance,
        'ok': not failed,
        'loss': loss_row,
        'tensors': rows,
        'worst': {'name': worst[0], 'error': finite_or_none(worst[1])},
        'failed': failed,
    }


def fmt(value, spec):
    return 'non-finite' if value is None else format(value, spec)


def print_table(result):
    print(f'{result["dump"]}: {result["describe"]}')
    print(f'  against PyTorch {result["torch"]} autograd in float64; error = max |g_dump - g_torch| / max |g|, tolerance {result["tolerance"]:g}')
    header = ('tensor', 'shape', 'max |g|', 'error', '')
    loss = result['loss']
    lines = [('loss', '', 'L = ' + fmt(loss['torch'], '.6g'), fmt(loss['error'], '.2e'), 'ok' if loss['ok'] else 'FAIL')]
    for r in result['tensors']:
        lines.append((r['name'], '[' + ', '.join(map(str, r['shape'])) + ']', fmt(r['maxAbs'], '.3e'), fmt(r['error'], '.2e'), 'ok' if r['ok'] else 'FAIL'))
    widths = [max(len(row[i]) for row in [header] + lines) for i in range(len(header))]
    for row in [header] + lines:
        print('  ' + '  '.join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
    worst = result['worst']
    verdict = 'all within tolerance' if result['ok'] else f'FAILED: {", ".join(result["failed"])} above tolerance'
    print(f'  worst: {worst["name"]} {fmt(worst["error"], ".2e")} — {verdict}')


def main(argv):
    parser = argparse.ArgumentParser(description='Check a gradstorm dump (gradstorm stress --dump FILE) against PyTorch autograd in float64.')
    parser.add_argument('dumps', nargs='+', metavar='DUMP.json')
    parser.add_argument('--tolerance', type=float, default=1e-4, help='largest accepted error per tensor (default 1e-4: the GPU computes in float32)')
    args = parser.parse_args(argv)
    if not (args.tolerance >= 0):
        parser.error('--tolerance must be a number >= 0')
    status = EXIT_OK
    for path in args.dumps:
        try:
            result = check_dump(path, args.tolerance)
        except DumpError as error:
            sys.stderr.write(f'torch-crosscheck: {path}: {error}\n')
            print(json.dumps({'schema': RESULT_SCHEMA, 'dump': path, 'ok': False, 'error': str(error)}))
            status = max(status, EXIT_UNREADABLE)
            continue
        print_table(result)
        print(json.dumps(result, allow_nan=False))
        if not result['ok']:
            status = max(status, EXIT_MISMATCH)
    return status


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
