// Jest 30 + @swc/jest: ts-jest cannot load the ESM-only Nest 12 packages on Node 20, swc can
// (it also transforms those packages to CommonJS, hence the transformIgnorePatterns below).
// swc strips types without checking them: `npm test` runs `tsc --noEmit` first.
/** @type {import('jest').Config} */
const swc = {
  jsc: {
    target: 'es2022',
    parser: { syntax: 'typescript', decorators: true },
    transform: { legacyDecorator: true, decoratorMetadata: true },
    keepClassNames: true,
  },
  module: { type: 'commonjs' },
  sourceMaps: 'inline',
};
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.spec.ts'],
  transform: {
    '^.+\\.(t|j|mj)s$': ['@swc/jest', swc],
  },
  // Everything in node_modules is left alone except ESM-only packages, which swc turns into CommonJS.
  transformIgnorePatterns: ['/node_modules/(?!(@nestjs|file-type|strtok3|token-types|@tokenizer|uint8array-extras|load-esm)/)'],
  moduleFileExtensions: ['ts', 'js', 'mjs', 'json'],
  testTimeout: 30000,
};
