#!/usr/bin/env -S node --import tsx --no-warnings=ExperimentalWarning
// Runs the TypeScript sources directly (no build step), for development. CommonJS, like bin/run.js
// (bin/package.json); the root is the package's, not bin/ (whose package.json has no name).
require('@oclif/core').execute({development: true, dir: require('node:path').join(__dirname, '..')})
