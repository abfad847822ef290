/**
 * What the page publishes on `window` for tests and for anyone scripting it
 * (puppeteer, the devtools console). Plain data only.
 */
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
  /** Points of the theory's line on that chart (0 where the theory has no exact line). */
  theoryPoints: number;
  /** Largest |log10 measured − log10 theory| at step 1 over the positions with both, in decades; null without a line. */
  theoryGapDecades: number | null;
  /** Finite cells of the heatmap. */
  heatmapCells: number;
  /** Steps with a finite ‖g‖ on the training chart. */
  trainingPoints: number;
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
    /** The outcome of the last report file opened. */
    __gradstormReportFile?: { ok: boolean; name: string; errors: string[] };
  }
}

export {};
