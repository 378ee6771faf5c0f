/** The `shoal` subcommands, by name. */
import type { Command } from '../command.js';
import { monitor } from './monitor.js';
import { serve } from './serve.js';

export const COMMANDS: readonly Command[] = [serve, monitor];
