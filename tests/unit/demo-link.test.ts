/**
 * The demo's links (demo/state.ts): a link the page cannot fully understand
 * runs nothing, keeps every valid value, and names each problem (an unknown
 * key with the key it most likely meant); the presets never train on the
 * probe loss. No browser.
 */
import { describe, expect, it } from 'vitest';
import { PRESETS, defaultConfig, nearestKey, readUrl, writeUrl } from '../../demo/state.ts';

function read(query: string) {
  return readUrl(query, true);
}

describe('a link the page cannot understand runs nothing and says why, key by key', () => {
  it('?depth=1e9&activation=relu: depth out of range and an unknown key (did you mean act?); the valid values stay', () => {
    const { state, problems } = read('?depth=1e9&width=16&gain=1.3&activation=relu');
    expect(problems).toEqual(["unknown key 'activation' (did you mean 'act'?)", 'depth=1e9: must be an integer in [1, 100000]']);
    expect(state.autorun).toBe(false);
    expect(state.config).toMatchObject({ model: 'mlp', depth: defaultConfig().depth, width: 16, input: 16, output: 16, gain: 1.3 });
  });

  const bad: [string, RegExp][] = [
    ['?depth=1e9', /^depth=1e9: must be an integer in \[1, 100000\]$/],
    ['?width=-5', /^width=-5: must be an integer in \[1, 65536\]$/],
    ['?gain=NaN', /^gain=NaN: not a finite number$/],
    ['?lr=Infinity', /^lr=Infinity: not a finite number$/],
    ['?act=<script>alert(1)</script>', /^act=<script>alert\(1\)<\/script>: choose from linear, relu, tanh$/],
    ['?gain=0', /^gain=0: must be a number in \(0, 1000000\]$/],
    ['?clip=norm:abc', /^clip=norm:abc: use none, norm:C or value:C/],
    ['?seq=40', /^seq=40: applies to model=rnn, not to this MLP$/],
    ['?model=rnn&seq=0', /^seq=0: must be an integer in \[1, /],
    ['?model=rnn&task=adding&at=all', /^at=all: the adding problem has its one target at the last step/],
    ['?depth=5&depth=6', /^depth given 2 times \(5, 6\): give it once$/],
    ['?preset=explode&run=yes', /^run=yes: use run=1 or run=0$/],
    ['?bench=1&bruns=0', /^bruns=0: must be an integer in \[1, 1000\]$/],
    ['?bench=1&bkernels=matmul,fft', /^bkernels=matmul,fft: fft unknown/],
    ['?pgains=a:b', /^pgains=a:b: use a:b:step/],
    ['?pwidth=2.5', /^pwidth=2.5: must be an integer in \[1, 65536\]$/],
    ['?selftest&seletest=1', /^unknown key 'seletest' \(did you mean 'selftest'\?\)$/],
    ['?res=1&norm=batch', /^norm=batch: choose from none, layer$/],
    ['?res=1&norm=layer&place=middle', /^place=middle: choose from pre, post$/],
    ['?norm=layer', /^norm=layer: .*give --residual A > 0/],
    ['?res=1&place=post', /^place=post: .*give it with --norm layer/],
    ['?model=rnn&norm=layer', /^norm=layer: applies to an MLP, not to this RNN$/],
    ['?model=gru', /^model=gru: choose from mlp, rnn, lstm$/],
    ['?model=lstm&forgetBias=abc', /^forgetBias=abc: not a finite number$/],
    ['?model=lstm&forgetBias=1000', /^forgetBias=1000: must be a number in \[-100, 100\]$/],
    ['?model=lstm&act=relu', /^act=relu: applies to an MLP or model=rnn, not to this LSTM$/],
    ['?model=lstm&bptt=10', /^bptt=10: applies to an MLP or model=rnn, not to this LSTM$/],
    ['?model=rnn&forgetBias=1', /^forgetBias=1: applies to model=lstm, not to this RNN$/],
    ['?forgetBias=1', /^forgetBias=1: applies to model=lstm, not to this MLP$/],
  ];
  for (const [query, message] of bad) {
    it(`${query}: ${message.source.slice(1, 50)}…, nothing runs`, () => {
      const { state, problems } = read(query);
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(message);
      expect(state.autorun || state.autoPhase || state.autoBench || state.selftest).toBe(false);
    });
  }

  it('a good link still runs what it asks for', () => {
    const run = read('?depth=6&width=16&act=tanh&steps=3&loss=mse');
    expect(run.problems).toEqual([]);
    expect(run.state.autorun).toBe(true);
    expect(run.state.config).toMatchObject({ depth: 6, width: 16, activation: 'tanh', steps: 3, loss: 'mse' });
    expect(read('?preset=rnn').state.autorun).toBe(true);
    expect(read('?bench=1&bruns=2').state.autoBench).toBe(true);
    expect(read('?phase&pwidth=8').state.autoPhase).toBe(true);
    expect(read('?selftest').state.selftest).toBe(true);
  });

  it('an RNN link keeps its valid values around a bad one', () => {
    const { state, problems } = read('?model=rnn&seq=50&width=8&gain=-1&task=adding');
    expect(problems).toEqual(['gain=-1: must be a number in (0, 1000000]']);
    expect(state.config).toMatchObject({ model: 'rnn', seqLen: 50, width: 8, task: 'adding', input: 2, output: 1, loss: 'mse' });
    expect(state.autorun).toBe(false);
  });

  it('an LSTM link: model=lstm&forgetBias=5 reads back (adding: 2 inputs, 1 output, mse), writes the same keys, and runs', () => {
    const { state, problems } = read('?model=lstm&seq=1000&width=16&forgetBias=5&task=adding');
    expect(problems).toEqual([]);
    expect(state.autorun).toBe(true);
    expect(state.config).toMatchObject({ model: 'lstm', seqLen: 1000, width: 16, forgetBias: 5, task: 'adding', input: 2, output: 1, loss: 'mse' });
    const written = new URLSearchParams(writeUrl({ config: state.config, configInUrl: true, preset: null, fitSoftware: true, phase: null, bench: null }));
    expect(written.get('model')).toBe('lstm');
    expect(written.get('forgetBias')).toBe('5');
    // An LSTM has no activation, σ_b, init, loss-at or truncation: its link names none.
    for (const key of ['act', 'bias', 'init', 'at', 'bptt']) expect(written.has(key), key).toBe(false);
    expect(read('?preset=lstm').state).toMatchObject({ autorun: true, preset: 'lstm', config: { model: 'lstm', forgetBias: 5, task: 'adding', seqLen: 1000 } });
  });

  it('a LayerNorm link: norm=layer&place=post reads back, writes the same keys, and norm=none is no LayerNorm at all', () => {
    const { state, problems } = read('?depth=8&width=16&res=1&norm=layer&place=post');
    expect(problems).toEqual([]);
    expect(state.autorun).toBe(true);
    expect(state.config).toMatchObject({ residual: 1, norm: 'layer', normPlace: 'post' });
    const written = writeUrl({ config: state.config, configInUrl: true, preset: null, fitSoftware: true, phase: null, bench: null });
    expect(new URLSearchParams(written).get('norm')).toBe('layer');
    expect(new URLSearchParams(written).get('place')).toBe('post');
    const none = read('?depth=8&width=16&res=1&norm=none').state.config;
    expect(none.model === 'mlp' && 'norm' in none).toBe(false);
    // A plain MLP's link names no norm.
    expect(writeUrl({ config: defaultConfig(), configInUrl: true, preset: null, fitSoftware: true, phase: null, bench: null })).not.toMatch(/norm|place/);
  });

  it('long values are cut in the message', () => {
    const { problems } = read(`?act=${'x'.repeat(500)}`);
    expect(problems[0].length).toBeLessThan(120);
  });

  it('what the page writes it reads back without a problem', () => {
    for (const preset of PRESETS) {
      const query = writeUrl({ config: preset.config, configInUrl: true, preset: null, fitSoftware: false, phase: null, bench: null });
      const { state, problems } = read(query);
      expect(problems, query).toEqual([]);
      expect(state.config).toEqual(preset.config);
    }
  });
});

describe('unknown keys are named with the key they most likely meant', () => {
  const cases: [string, string | null][] = [
    ['activation', 'act'], // the config's field name
    ['seq-len', 'seq'], // the CLI's flag
    ['biasStd', 'bias'],
    ['optimizer', 'opt'],
    ['loss-at', 'at'],
    ['dpeth', 'depth'], // a typo
    ['widht', 'width'],
    ['stesp', 'steps'],
    ['norm-place', 'place'], // the CLI's flag
    ['normPlace', 'place'],
    ['runs', 'bruns'], // a bench setting without its b
    ['learningrate', null],
    ['zzz', null],
  ];
  for (const [key, near] of cases) it(`${key} → ${near}`, () => expect(nearestKey(key)).toBe(near));
});

describe('presets never train on the probe loss (Σ g⊙y has no minimum: training on it diverges by construction)', () => {
  it('every preset and baseline with more than one step uses mse', () => {
    const configs = PRESETS.flatMap((p) => [p.config, ...(p.baseline ? [p.baseline.config] : [])]);
    expect(configs.some((c) => c.steps > 1)).toBe(true);
    for (const c of configs) if (c.steps > 1) expect(c.loss, JSON.stringify(c)).toBe('mse');
  });
});
