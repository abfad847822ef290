// STYLE.md: under vitest import the ESM build of wgsl_reflect; its types are the package's own.
declare module 'wgsl_reflect/wgsl_reflect.module.js' {
  export * from 'wgsl_reflect';
}
