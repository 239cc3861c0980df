export { commitStaged, stageFile, writeFileWhole, type StagedFile } from './write-whole.js';
