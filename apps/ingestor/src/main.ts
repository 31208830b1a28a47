import { runService } from '@climcat/platform';
import { IngestorModule } from './ingestor.module';

void runService('ingestor', [IngestorModule]);
