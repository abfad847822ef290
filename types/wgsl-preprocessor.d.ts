declare module 'wgsl-preprocessor/wgsl-preprocessor.js' {
  /** Template tag: `#if ${flag}` / `#elif ${flag}` / `#else` / `#endif` select WGSL variants. */
  export function wgsl(strings: TemplateStringsArray, ...values: unknown[]): string;
}
