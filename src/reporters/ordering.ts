// The order of tables lives with the results (the findings' default questions need the baseline too); importers of it here keep working.
export { baselinePlatform, orderBy, rowResult, sortResults, tablePlatforms, type ReportOrder } from '../results/ordering.js';
