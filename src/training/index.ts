// Public surface of point-in-time training sets, shared by the CLI, the serving Worker and programs.
export { parseCsv, encodeCsvValue, encodeCsvRecord, decodeCsvCell } from "./csv";
export { CONTENT_TYPES, DATASET_FORMATS, datasetFormatOf, encodeHeader, encodeRows, type DatasetFormat } from "./encode";
export { planFeatures, type FeaturePlan } from "./plan";
export { AS_OF_ORDER } from "./point-in-time-sql";
export { parseEventTimestamp, parseSpineCsv, parseSpineJsonl, spineFromObjects, type Spine, type SpineRow } from "./spine";
export { sqlRunner, type PgQueryable, type SqlRunner } from "./sql-runner";
export {
  DEFAULT_CHUNK_ROWS,
  DEFAULT_JOIN_CHUNK_ROWS,
  EVENT_TIMESTAMP_SUFFIX,
  getTrainingDataset,
  openTrainingDataset,
  prepareTrainingSet,
  TrainingDataset,
  type DatasetRow,
  type FeatureSummary,
  type PreparedTrainingSet,
  type TrainingInput,
  type TrainingOptions,
  type TrainingProgress,
  type TrainingSummary,
} from "./training-dataset";
