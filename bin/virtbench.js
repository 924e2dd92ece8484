#!/usr/bin/env node
// The CLI, compiled to dist/ by `npm run build`: shipped in the package, and built in a clone by
// npm install (through "prepare").
import '../dist/cli/bin.js';
