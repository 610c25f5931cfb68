import { fileURLToPath } from 'node:url';

/** The package root, whether this runs from src/ (tsx) or dist/ (compiled): both sit one level down. */
export const projectRoot = fileURLToPath(new URL('..', import.meta.url));
