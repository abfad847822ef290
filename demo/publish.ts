/**
 * What the page publishes on `window` for tests and for anyone scripting it
 * (puppeteer, the devtools console). Plain data only.
 */
import type { BenchReport, TunedEntry, TuningTable } from './engine.ts';
import type { PhasePoint } from './phase.ts';
import type { AnyRunReport } from './run-view.ts';
import type { SelfTestState } from './selftest.ts';

export interface RunState {
  /** Increments with every run the page starts (a preset with a baseline is one run). */
  id: number;
  /** 'stopped': the Stop button ended it early (no report is published). */
  status: 'running' | 'done' | 'stopped' | 'error';
  label: string;
  error?: string;
}

export interface ChartCounts {
  /** Finite points of the headline norm (‖δ_l‖ or ‖∂L/∂h_t‖) on the per-layer / per-timestep chart. */
  profilePoints: number;
  /** Finite points of the compared network's headline norm (the RNN preset's gain 0.95); 0 without one. */
  comparePoints: number;
  /** Finite points of an LSTM's cell gradient ‖∂L/∂c_t‖ (latest step); 0 for the other models. */
  cellPoints: number;
  /** Points of the theory's line on that chart (0 where the theory has no exact line). */
  theoryPoints: number;
  /** Largest |log10 measured − log10 theory| at step 1 over the positions with both, in decades; null without a line. */
  theoryGapDecades: number | null;
  /** Finite cells of the heatmap. */
  heatmapCells: number;
  /** Steps with a finite ‖g‖ on the training chart. */
  trainingPoints: number;
  /**
   * The y-axis tick labels each chart drew, as uPlot rendered them (empty: an
   * axis without labels): profile (norm per layer or timestep), heatmap
   * (positions), training (‖g‖), trainingLoss (the loss axis), phaseRelu and
   * phaseTanh (depths).
   */
  yTicks: Record<'profile' | 'heatmap' | 'training' | 'trainingLoss' | 'phaseRelu' | 'phaseTanh', string[]>;
}

export interface PhaseState {
  running: boolean;
  done: number;
  total: number;
  points: PhasePoint[];
  error?: string;
}

export interface GpuState {
  available: boolean;
  software: boolean;
  /** The banner's text. */
  message: string;
}

export interface BenchRunState {
  /** Increments with every benchmark run the page starts. */
  id: number;
  /**
   * 'done': `report` is this run's; 'file': `report` is a gradstorm.bench/1
   * file the user opened; 'cancelled': the Cancel button ended the run (no report).
   */
  state: 'running' | 'done' | 'cancelled' | 'error' | 'file';
  /** The last progress line. */
  progress: string;
  /** Events the suite reported so far (progress, entries, baselines, skipped, tuned). */
  events: number;
  /** Shape classes the autotuner measured during this run (none when the stored table had them all). */
  tuned: TunedEntry[];
  report?: BenchReport;
  /** The opened file's name (state 'file'). */
  file?: string;
  error?: string;
}

export interface TuningState {
  /** tuningKey(adapter): vendor, architecture, device, description, backend, engine version, search space. */
  key: string;
  /** Where the table lives (the localStorage item). */
  where: string;
  /** 'stored': read from localStorage; 'measured': the page measured part or all of it since it loaded; 'none': no table yet. */
  source: 'stored' | 'measured' | 'none';
  table: TuningTable | null;
  /** Why a stored table was set aside (another engine version, malformed), if one was. */
  problem?: string;
  /** True while the Retune button's search runs. */
  retuning: boolean;
}

declare global {
  interface Window {
    /** The report of the page's last finished run (gradstorm.run/1, as the CLI writes it: MLP or RNN). */
    __gradstormLastReport?: AnyRunReport;
    /** Every report of the last run action: the baseline first when a preset has one. */
    __gradstormRuns?: { label: string; report: AnyRunReport }[];
    __gradstormRun?: RunState;
    __gradstormSelfTest?: SelfTestState;
    __gradstormPhase?: PhaseState;
    __gradstormCharts?: ChartCounts;
    __gradstormGpu?: GpuState;
    /** The Kernels view's last benchmark run (or opened bench report). */
    __gradstormBench?: BenchRunState;
    /** This adapter's autotuning table, as the Kernels view shows it. */
    __gradstormTuning?: TuningState;
    /** What the page made of its link: every problem it found; blocked: it had some, so nothing ran. */
    __gradstormLink?: { problems: string[]; blocked: boolean };
    /** The outcome of the last report file opened. */
    __gradstormReportFile?: { ok: boolean; name: string; errors: string[] };
  }
}

export {};
