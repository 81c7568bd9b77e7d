#!/usr/bin/env node
/** The `ferry` command of an installed scripts project. */
import { main } from '@ferry/cli';

process.exitCode = await main(process.argv.slice(2), process.env);
